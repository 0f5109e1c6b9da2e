"""Panel administratora: the user form and the search of Dziennik zmian."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional, Regexp

from ekpanel.alerts.forms import ADDRESS, ADDRESS_MESSAGE
from ekpanel.audit.actions import LABELS, Action
from ekpanel.audit.queries import AuditFilters


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class UserForm(FlaskForm):
    login = StringField(
        _l("Login"),
        validators=[
            DataRequired(),
            Length(max=80, message=_l("Login może mieć najwyżej 80 znaków.")),
            Regexp(r"^[\w.@+-]+$", message=_l("Login może zawierać litery, cyfry oraz . @ + - _")),
        ],
    )
    password = PasswordField(
        _l("Hasło"),
        validators=[Optional(), Length(min=8, max=200, message=_l("Hasło musi mieć od 8 do 200 znaków."))],
    )
    is_admin = BooleanField(_l("Administrator"))
    can_refresh = BooleanField(_l("Przekazane dokumenty - e-mail (odświeżenie)"))
    active = BooleanField(_l("Aktywny"), default=True)
    language = SelectField(_l("Język"), choices=[("pl", "Polski"), ("en", "English")], default="pl")
    email = StringField(
        _l("Adres e-mail"),
        validators=[Optional(), Length(max=320), Regexp(ADDRESS, message=ADDRESS_MESSAGE)],
    )
    companies = MultiCheckboxField(_l("Firmy"), coerce=int)


class AuditSearchForm(FlaskForm):
    """The search of Dziennik zmian; read from the query string, so no CSRF token."""

    class Meta:
        csrf = False

    q = StringField(_l("Szukaj"), validators=[Optional(), Length(max=200)])
    action = SelectField(
        _l("Czynność"),
        choices=[("", _l("Wszystkie")), *((action.value, LABELS[action]) for action in Action)],
        default="",
        validators=[Optional()],
    )
    date_from = DateField(_l("Od dnia"), validators=[Optional()])
    date_to = DateField(_l("Do dnia"), validators=[Optional()])

    def filters(self) -> AuditFilters:
        """What the list shows; a field with an error does not filter (the error is shown beside it)."""
        valid = {name for name, field in self._fields.items() if not field.errors}
        return AuditFilters(
            text=(self.q.data or "").strip() if "q" in valid else "",
            action=self.action.data if "action" in valid and self.action.data else "",
            date_from=self.date_from.data if "date_from" in valid else None,
            date_to=self.date_to.data if "date_to" in valid else None,
        )
