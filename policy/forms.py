from django import forms
from django.utils.translation import gettext_lazy as _

from policy import terms as term_text
from policy.models import WordList


class WordListForm(forms.ModelForm):
    class Meta:
        model = WordList
        fields = ["name", "action", "terms"]
        widgets = {"terms": forms.Textarea(attrs={"rows": 20, "cols": 60, "class": "policy-terms"})}

    def clean_terms(self) -> str:
        return "\n".join(term_text.parse_terms(self.cleaned_data["terms"]))


class ImportForm(forms.Form):
    file = forms.FileField(label=_("Text file"), help_text=_("UTF-8, one term a line, Chinese or English."))
    replace = forms.BooleanField(
        label=_("Replace the list's terms"),
        required=False,
        help_text=_("Unticked, the file's terms are added to those already in the list."),
    )
