from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, SelectMultipleField, StringField, widgets
from wtforms.validators import DataRequired, Length, Optional, Regexp


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
    companies = MultiCheckboxField(_l("Firmy"), coerce=int)
