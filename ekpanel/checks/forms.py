"""The decision search of the check history (a GET form: the search lives in the URL)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import Length, Optional


class DecisionSearchForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Nadawca lub temat"), validators=[Optional(), Length(max=200)])

    def text(self) -> str:
        """The searched text, after ``validate``; "" when it has an error (shown beside the field)."""
        return (self.q.data or "").strip() if not self.q.errors else ""
