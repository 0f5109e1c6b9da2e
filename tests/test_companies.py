import pytest

from ekpanel.companies.models import Company
from ekpanel.companies.nip import is_valid_nip
from ekpanel.extensions import db
from tests.factories import make_company, make_user


@pytest.mark.parametrize(
    ("nip", "valid"),
    [
        ("5260250274", True),
        ("526-025-02-74", True),
        ("PL 526 025 02 74", True),
        ("5260250275", False),  # wrong check digit
        ("526025027", False),  # too short
        ("abcdefghij", False),
    ],
)
def test_nip_is_validated_by_its_check_digit(nip, valid):
    assert is_valid_nip(nip) is valid


def test_company_forms_render(admin_client):
    company = make_company("Alfa")
    assert "Nazwa firmy" in admin_client.get("/settings/email/companies/new").get_data(as_text=True)
    assert "Alfa" in admin_client.get(f"/settings/email/companies/{company.id}/edit").get_data(as_text=True)


def test_admin_adds_a_company(admin_client):
    response = admin_client.post(
        "/settings/email/companies/new", data={"name": "Alfa sp. z o.o.", "active": "y"}
    )
    assert response.status_code == 302
    assert db.session.scalar(db.select(Company).filter_by(name="Alfa sp. z o.o.")) is not None


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": ""}, "To pole jest wymagane."),
        ({"name": "Beta", "nip": "1234567890"}, "Nieprawidłowy NIP"),
        ({"name": "alfa"}, "Firma o tej nazwie już istnieje"),
    ],
)
def test_company_form_explains_what_is_wrong(admin_client, data, message):
    make_company("Alfa")
    response = admin_client.post("/settings/email/companies/new", data=data)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)


def test_admin_renames_and_deactivates_a_company(admin_client):
    company = make_company("Alfa")
    response = admin_client.post(
        f"/settings/email/companies/{company.id}/edit", data={"name": "Alfa Nowa", "nip": "526-025-02-74"}
    )
    assert response.status_code == 302
    db.session.refresh(company)
    assert (company.name, company.nip, company.active) == ("Alfa Nowa", "5260250274", False)


def test_deactivated_company_disappears_for_operators(client, auth):
    company = make_company("Alfa", active=False)
    make_user("anna", companies=[company])
    auth.login("anna")
    assert client.get(f"/companies/{company.id}/documents").status_code == 404


def test_company_panel_is_a_fragment_for_htmx(admin_client, htmx):
    company = make_company("Alfa")
    page = admin_client.get(f"/settings/email/companies/{company.id}")
    fragment = admin_client.get(f"/settings/email/companies/{company.id}", headers=htmx)
    assert "<html" in page.get_data(as_text=True)
    assert "<html" not in fragment.get_data(as_text=True)
    assert 'id="company-panel"' in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.headers["Vary"]


def test_post_without_csrf_token_is_refused(app, auth):
    app.config["WTF_CSRF_ENABLED"] = True
    client = app.test_client()
    make_user("szef", admin=True)
    response = client.post("/login", data={"login": "szef", "password": "x"})
    assert response.status_code == 400
