import re

from ekpanel.accounts.models import User
from ekpanel.accounts.operations import active_admin_exists
from ekpanel.extensions import db
from tests.factories import PASSWORD, make_company, make_user


def test_login_with_right_password_opens_the_documents_page(client, auth):
    make_user("anna")
    response = auth.login("anna")
    assert response.status_code == 302
    assert client.get("/", follow_redirects=True).status_code == 200


def test_login_with_wrong_password_is_refused_with_a_message(client, auth):
    make_user("anna")
    response = auth.login("anna", "zle-haslo")
    assert response.status_code == 200
    assert "Nieprawidłowy login lub hasło" in response.get_data(as_text=True)


def test_every_page_needs_login(client):
    for url in ("/", "/admin/users", "/settings/email/", "/companies/1/documents"):
        response = client.get(url)
        assert response.status_code == 302
        assert "/login" in response.headers["Location"]


def test_passwords_are_stored_hashed(app):
    user = make_user("anna")
    assert PASSWORD not in user.password_hash
    assert user.check_password(PASSWORD)


def test_deactivated_user_cannot_log_in(client, auth):
    make_user("anna", active=False)
    response = auth.login("anna")
    assert "Nieprawidłowy login lub hasło" in response.get_data(as_text=True)


def test_deactivated_user_loses_an_open_session(client, auth):
    user = make_user("anna")
    auth.login("anna")
    assert client.get("/").status_code == 200  # the documents page itself, not a way to the login page
    user.active = False
    db.session.commit()
    response = client.get("/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_login_redirect_ignores_foreign_next(client):
    make_user("anna")
    response = client.post("/login?next=https://evil.example/", data={"login": "anna", "password": PASSWORD})
    assert response.headers["Location"].startswith("/")


def test_operator_gets_403_for_administrators_pages(client, auth):
    make_user("anna")
    auth.login("anna")
    for url in ("/admin/users", "/admin/users/new", "/settings/email/", "/settings/email/companies/new"):
        assert client.get(url).status_code == 403, url


def test_operator_gets_404_for_a_company_not_assigned(client, auth):
    mine = make_company("Moja")
    other = make_company("Obca")
    make_user("anna", companies=[mine])
    auth.login("anna")
    assert client.get(f"/companies/{mine.id}/documents").status_code == 200
    assert client.get(f"/companies/{other.id}/documents").status_code == 404
    assert client.get("/companies/99999/documents").status_code == 404


def test_operator_sees_only_assigned_companies(client, auth):
    mine = make_company("Moja")
    make_company("Obca")
    second = make_company("Druga moja")
    make_user("anna", companies=[mine, second])
    auth.login("anna")
    html = client.get("/").get_data(as_text=True)
    assert "Moja" in html and "Druga moja" in html and "Obca" not in html


def test_admin_creates_operator_with_right_and_company(client, auth):
    company = make_company("Alfa")
    make_user("szef", admin=True)
    auth.login("szef")
    response = client.post(
        "/admin/users/new",
        data={
            "login": "ewa",
            "password": "dlugie-haslo",
            "can_refresh": "y",
            "active": "y",
            "language": "pl",
            "companies": [str(company.id)],
        },
    )
    assert response.status_code == 302
    ewa = db.session.scalar(db.select(User).filter_by(login="ewa"))
    assert ewa.can_refresh and not ewa.is_admin
    assert [c.name for c in ewa.companies] == ["Alfa"]


def test_admin_cannot_create_a_login_twice(client, auth):
    make_user("szef", admin=True)
    make_user("ewa")
    auth.login("szef")
    response = client.post(
        "/admin/users/new", data={"login": "EWA", "password": "dlugie-haslo", "language": "pl"}
    )
    assert "Taki login już istnieje" in response.get_data(as_text=True)


def test_admin_is_told_plainly_that_a_password_is_too_short(client, auth):
    make_user("szef", admin=True)
    auth.login("szef")
    response = client.post("/admin/users/new", data={"login": "ewa", "password": "krotkie", "language": "pl"})
    assert response.status_code == 200
    assert "Hasło musi mieć od 8 do 200 znaków." in response.get_data(as_text=True)
    assert db.session.scalar(db.select(User).filter_by(login="ewa")) is None


def test_admin_deactivates_operator_and_takes_the_right_away(client, auth):
    make_user("szef", admin=True)
    ewa = make_user("ewa", can_refresh=True)
    auth.login("szef")
    response = client.post(f"/admin/users/{ewa.id}", data={"login": "ewa", "language": "pl"})
    assert response.status_code == 302
    db.session.refresh(ewa)
    assert not ewa.active and not ewa.can_refresh


def test_english_is_selectable_per_user(client, auth):
    make_user("anna")
    auth.login("anna")
    assert "Wyloguj" in client.get("/", follow_redirects=True).get_data(as_text=True)
    client.post("/account/language", data={"language": "en", "next": "/"})
    assert "Log out" in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_the_menu_marks_the_part_of_the_panel_a_page_belongs_to(client, auth):
    company = make_company("Alfa")
    make_user("szef", admin=True)
    auth.login("szef")
    pages = {
        f"/companies/{company.id}/documents": "Przekazane dokumenty - e-mail",
        f"/companies/{company.id}/checks": "Przekazane dokumenty - e-mail",
        "/settings/email/": "Pobieranie dokumentów przez e-mail",
        "/admin/users": "Panel administratora",
    }
    for url, section in pages.items():
        html = client.get(url).get_data(as_text=True)
        assert re.findall(r'aria-current="page">([^<]+)</a>', html) == [section], url


def test_only_an_active_administrator_counts_as_one(app):
    assert not active_admin_exists()
    make_user("anna")
    make_user("szef", admin=True, active=False)
    assert not active_admin_exists()
    make_user("szefowa", admin=True)
    assert active_admin_exists()
