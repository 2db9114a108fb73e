"""Hostile files built at test time: small on disk, expensive or broken inside."""

import io
import struct
import zipfile
import zlib

# Where fields sit in a member's local header and in its central directory entry.
_LOCAL, _CENTRAL = b"PK\x03\x04", b"PK\x01\x02"
_NAME = {_LOCAL: (26, 30), _CENTRAL: (28, 46)}  # offset of the name's length, offset of the name
_FLAGS = {_LOCAL: 6, _CENTRAL: 8}
_METHOD = {_LOCAL: 8, _CENTRAL: 10}
_SIZE = {_LOCAL: 22, _CENTRAL: 24}


def zip_of(members: dict[str, bytes | str], *, stored: tuple[str, ...] = ()) -> bytes:
    """A .zip of the members, deflated but for those named in `stored`."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data, compress_type=zipfile.ZIP_STORED if name in stored else None)
    return buffer.getvalue()


def _headers(data: bytes, name: str):
    """(signature, offset) of the member's local header and of its central directory entry."""
    encoded = name.encode()
    for signature, (length_at, name_at) in _NAME.items():
        at = data.find(signature)
        while at >= 0:
            length = struct.unpack_from("<H", data, at + length_at)[0]
            if data[at + name_at : at + name_at + length] == encoded:
                yield signature, at
                break
            at = data.find(signature, at + 1)


def _set(data: bytes, name: str, fields: dict[bytes, int], value, width: str = "<H") -> bytes:
    out = bytearray(data)
    for signature, at in _headers(data, name):
        offset = at + fields[signature]
        struct.pack_into(width, out, offset, value(struct.unpack_from(width, out, offset)[0]))
    return bytes(out)


def encrypted(data: bytes, name: str) -> bytes:
    """The member flagged as encrypted in both headers, as a password-protected archive has it."""
    return _set(data, name, _FLAGS, lambda flags: flags | 0x1)


def with_method(data: bytes, name: str, method: int) -> bytes:
    """The member marked as compressed with `method` (99: AES, 6: implode, ...)."""
    return _set(data, name, _METHOD, lambda _method: method)


def with_declared_size(data: bytes, name: str, size: int) -> bytes:
    """The member's uncompressed size, in both headers, replaced by a lie."""
    return _set(data, name, _SIZE, lambda _size: size, width="<I")


def _content_offset(data: bytes, name: str) -> int:
    local = next(at for signature, at in _headers(data, name) if signature == _LOCAL)
    name_length, extra_length = struct.unpack_from("<HH", data, local + 26)
    return local + 30 + name_length + extra_length


def with_bad_checksum(data: bytes, name: str) -> bytes:
    """A stored (uncompressed) member with its first byte changed: it no longer matches its CRC-32."""
    out = bytearray(data)
    out[_content_offset(data, name)] ^= 0x20
    return bytes(out)


def with_corrupt_data(data: bytes, name: str) -> bytes:
    """A deflated member whose first block says it is of the reserved type 3: it cannot inflate."""
    out = bytearray(data)
    out[_content_offset(data, name)] = 0xFF
    return bytes(out)


def renamed(data: bytes, placeholder: str, raw_name: bytes) -> bytes:
    """The archive with an ASCII member name swapped for raw bytes of the same length, written without
    the UTF-8 flag, as Windows archivers write names in the local code page (GBK in China)."""
    assert len(placeholder.encode()) == len(raw_name)
    return data.replace(placeholder.encode(), raw_name)


def many_pages_pdf(pages: int, lines_per_page: int = 40) -> bytes:
    """A PDF of `pages` pages that all show one shared content stream: about 160 bytes a page on disk,
    but each page is read in full (the 3.3 MB, 20,000-page PDF of issue 13 is this)."""
    lines = (
        b"BT /F1 10 Tf 40 %d Td (Line %d of a page that every page of this file shares.) Tj ET\n"
        % (800 - 12 * (i % 60), i)
        for i in range(lines_per_page)
    )
    stream = zlib.compress(b"".join(lines))
    kids = b" ".join(b"%d 0 R" % (5 + i) for i in range(pages))
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ] + [page + b"/Contents 4 0 R >>"] * pages
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    out.write(b"".join(b"%010d 00000 n \n" % offset for offset in offsets))
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()
