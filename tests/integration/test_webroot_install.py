"""The webserver's copy of the application: self-contained (no symlink at all), with a theme, and www-data's to
write in wp-content/uploads only. Real files and owners, as root; the fleet test proves the same on a machine."""

import os
import pwd
import stat
from pathlib import Path

import pytest

from adt.errors import AdtError
from adt.machine.bootstrap import UPLOADS, WORDPRESS, copy_application_command, install_application


def _links(root: Path):
    return [p for p in root.rglob("*") if p.is_symlink()]


def _package_like(tmp_path: Path) -> Path:
    """A tree shaped like Debian's /usr/share/wordpress: links out of it (absolute and relative) and one within."""
    outside = tmp_path / "etc-wordpress"
    outside.mkdir()
    (outside / "htaccess").write_text("# rules\n")
    (tmp_path / "php" / "getid3").mkdir(parents=True)
    (tmp_path / "php" / "getid3" / "getid3.php").write_text("<?php // getid3\n")
    source = tmp_path / "share" / "wordpress"
    (source / "wp-includes" / "ID3").mkdir(parents=True)
    (source / "wp-content" / "themes" / "plain").mkdir(parents=True)
    (source / "wp-content" / "themes" / "plain" / "style.css").write_text("/* Theme Name: plain */\n")
    (source / "wp-settings.php").write_text("<?php // settings\n")
    (source / ".htaccess").symlink_to(outside / "htaccess")
    (source / "wp-includes" / "ID3" / "getid3.php").symlink_to("../../../../php/getid3/getid3.php")
    (source / "wp-load.php").symlink_to("wp-settings.php")
    return source


def test_copy_command_follows_links_and_keeps_modes_not_owners():
    assert copy_application_command(Path("/usr/share/wordpress"), Path("/var/www/html")) == [
        "cp", "-R", "--dereference", "--preserve=mode,timestamps", "/usr/share/wordpress/.", "/var/www/html"]


def test_links_leading_out_become_files_and_only_uploads_is_www_datas(tmp_path):
    source, webroot = _package_like(tmp_path), tmp_path / "html"
    webroot.mkdir()
    install_application(source, webroot)
    assert _links(webroot) == []
    assert (webroot / ".htaccess").read_text() == "# rules\n"
    assert (webroot / "wp-includes" / "ID3" / "getid3.php").read_text() == "<?php // getid3\n"
    assert (webroot / "wp-load.php").read_text() == "<?php // settings\n"
    www = pwd.getpwnam("www-data").pw_uid
    uploads = webroot / UPLOADS
    assert uploads.is_dir() and uploads.stat().st_uid == www
    others = [p for p in [webroot, *webroot.rglob("*")] if p != uploads]
    assert {p.stat().st_uid for p in others} == {0}
    assert not [p for p in others if p.stat().st_mode & (stat.S_IWGRP | stat.S_IWOTH)]


def test_a_second_boot_keeps_the_webroot_and_its_uploads(tmp_path):
    source, webroot = _package_like(tmp_path), tmp_path / "html"
    webroot.mkdir()
    install_application(source, webroot)
    (webroot / UPLOADS / "photo.png").write_bytes(b"png")
    (source / "wp-settings.php").write_text("<?php // a newer package\n")
    install_application(source, webroot)
    assert (webroot / UPLOADS / "photo.png").read_bytes() == b"png"
    assert (webroot / "wp-settings.php").read_text() == "<?php // settings\n"


def test_an_uploads_symlink_in_a_restored_webroot_is_not_handed_to_www_data(tmp_path):
    source, webroot = _package_like(tmp_path), tmp_path / "html"
    webroot.mkdir()
    install_application(source, webroot)
    (webroot / UPLOADS).rmdir()
    (webroot / UPLOADS).symlink_to("..")  # inside the webroot, so a restore lets it through
    with pytest.raises(AdtError, match="wp-content/uploads is a symlink"):
        install_application(source, webroot)
    assert {p.stat().st_uid for p in (webroot, webroot / "wp-content")} == {0}


def test_a_package_without_a_theme_is_a_clear_error(tmp_path):
    source, webroot = _package_like(tmp_path), tmp_path / "html"
    (source / "wp-content" / "themes" / "plain" / "style.css").unlink()
    webroot.mkdir()
    with pytest.raises(AdtError, match="wp-content/themes has no theme") as raised:
        install_application(source, webroot)
    assert "wordpress-theme-twentytwentythree" in raised.value.hint


def test_debians_wordpress_copies_self_contained_with_its_theme(tmp_path):
    assert _links(WORDPRESS), "Debian's package is expected to link out of its tree"
    webroot = tmp_path / "html"
    webroot.mkdir()
    install_application(WORDPRESS, webroot)
    assert _links(webroot) == []
    assert (webroot / "wp-content" / "themes" / "twentytwentythree" / "theme.json").is_file()
    assert (webroot / "wp-includes" / "certificates" / "ca-bundle.crt").stat().st_size > 0
    assert os.stat(webroot / UPLOADS).st_uid == pwd.getpwnam("www-data").pw_uid
