import pytest

from gis_core.spreadsheet import inert


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("=1+1", "'=1+1"),
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+cmd|' /C calc'!A0", "'+cmd|' /C calc'!A0"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("-12.5", "-12.5"),
        ("+86", "+86"),
        ("1e-3", "1e-3"),
        ("江阳区 = 1", "江阳区 = 1"),
        ("", ""),
    ],
)
def test_inert(text, shown):
    assert inert(text) == shown
