from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest
from django.shortcuts import get_object_or_404

from knowledge.models import Document, KnowledgeBase


@login_required
def download(request: HttpRequest, document_id: int) -> FileResponse:
    readable = KnowledgeBase.objects.readable_by(request.user)
    document = get_object_or_404(Document, id=document_id, knowledge_base__in=readable)
    return FileResponse(document.file.open("rb"), filename=document.title)
