"""The forms of alerts: a person's own choices (Moje konto) and the administrators' test message."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length, Optional, Regexp

# One @, something on each side, a dot in the domain: what a typo usually breaks. The SMTP server
# has the last word on the rest, and its refusal is shown on the list of sent alerts.
ADDRESS = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
ADDRESS_MESSAGE = _l("To nie wygląda na adres e-mail.")


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class PreferencesForm(FlaskForm):
    email = StringField(
        _l("Adres e-mail"),
        validators=[Optional(), Length(max=320), Regexp(ADDRESS, message=ADDRESS_MESSAGE)],
    )
    topics = MultiCheckboxField(_l("Chcę dostawać"), coerce=str)


class TestMessageForm(FlaskForm):
    address = StringField(
        _l("Adres odbiorcy"),
        validators=[DataRequired(), Length(max=320), Regexp(ADDRESS, message=ADDRESS_MESSAGE)],
    )
