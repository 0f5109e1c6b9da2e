"""Forms of the documents list: the filter (a GET form, so it lives in the URL) and status changes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, SelectField, SelectMultipleField, StringField
from wtforms.validators import AnyOf, Length, Optional, ValidationError

from ekpanel.documents.models import STATUS_NEW, STATUS_REGISTERED
from ekpanel.documents.queries import NOT_VERIFIED, DocumentFilters


class FilterForm(FlaskForm):
    """Read from the query string; no CSRF token, because it changes nothing."""

    class Meta:
        csrf = False

    q = StringField(_l("Szukaj"), validators=[Optional(), Length(max=200)])
    date_from = DateField(_l("Otrzymane od"), validators=[Optional()])
    date_to = DateField(_l("Otrzymane do"), validators=[Optional()])
    status = SelectField(
        _l("Status"),
        choices=[("", _l("Wszystkie")), (STATUS_NEW, _l("Nowy")), (STATUS_REGISTERED, _l("Zarejestrowany"))],
        default="",
        validators=[Optional()],
    )
    verdict = SelectField(
        _l("Weryfikacja nadawcy"),
        choices=[
            ("", _l("Wszystkie")),
            ("confirmed", _l("potwierdzony")),
            ("unconfirmed", _l("niepotwierdzony")),
            ("failed", _l("niezgodny")),
            (NOT_VERIFIED, _l("nie sprawdzano")),
        ],
        default="",
        validators=[Optional()],
    )

    warnings = BooleanField(_l("z ostrzeżeniami"), validators=[Optional()])

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_l("Data końcowa jest wcześniejsza niż początkowa."))

    def filters(self) -> DocumentFilters:
        """What the list shows; a field with an error does not filter (the error is shown beside it)."""
        valid = {name for name, field in self._fields.items() if not field.errors}
        return DocumentFilters(
            text=(self.q.data or "").strip() if "q" in valid else "",
            date_from=self.date_from.data if "date_from" in valid else None,
            date_to=self.date_to.data if "date_to" in valid else None,
            status=self.status.data if "status" in valid and self.status.data else "",
            with_warnings=bool(self.warnings.data),
            verdict=self.verdict.data if "verdict" in valid and self.verdict.data else "",
        )


class StatusForm(FlaskForm):
    """Mark one or many documents. ``ids`` are the row checkboxes (or one row's button)."""

    ids = SelectMultipleField(coerce=int, validate_choice=False)
    status = HiddenField(validators=[AnyOf([STATUS_NEW, STATUS_REGISTERED])])
