from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length


class LoginForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired()])
    password = PasswordField(_l("Hasło"), validators=[DataRequired()])


class LanguageForm(FlaskForm):
    language = SelectField(_l("Język"), choices=[("pl", "Polski"), ("en", "English")])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Obecne hasło"), validators=[DataRequired()])
    new_password = PasswordField(
        _l("Nowe hasło"),
        validators=[
            DataRequired(),
            Length(min=8, max=200, message=_l("Hasło musi mieć od 8 do 200 znaków.")),
        ],
    )
    confirm_password = PasswordField(
        _l("Powtórz nowe hasło"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("Hasła nie są takie same."))],
    )
