from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import DataRequired


class LoginForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired()])
    password = PasswordField(_l("Hasło"), validators=[DataRequired()])


class LanguageForm(FlaskForm):
    language = SelectField(_l("Język"), choices=[("pl", "Polski"), ("en", "English")])
