from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, ValidationError
from wtforms.validators import DataRequired, Length

from ekpanel.companies.nip import is_valid_nip


class CompanyForm(FlaskForm):
    name = StringField(_l("Nazwa firmy"), validators=[DataRequired(), Length(max=200)])
    nip = StringField(_l("NIP"))
    active = BooleanField(_l("Aktywna"), default=True)

    def validate_nip(self, field):
        if field.data and field.data.strip() and not is_valid_nip(field.data):
            raise ValidationError(_l("Nieprawidłowy NIP (błędna cyfra kontrolna lub długość)."))
