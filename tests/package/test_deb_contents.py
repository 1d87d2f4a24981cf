"""What `make deb` builds (no container: make test runs this; make test-package installs it):
the version, the dependencies on the Kamailio release and the libraries, and the files where
the README says they go."""
import os

from debpkg import (EXAMPLES, PACKAGE, SHARE, field, host_kamailio_release, modules_dir,
                    pchat_version, run)
from lab import TOP


def test_package_fields(deb):
    assert field(deb, "Package") == PACKAGE
    assert field(deb, "Version") == pchat_version() + "-1"
    release = host_kamailio_release()
    major_minor, patch = release.rsplit(".", 1)
    depends = field(deb, "Depends")
    # any Debian revision of the release it was built for, not the next release
    assert depends.startswith("kamailio (>= %s), kamailio (<< %s.%d~), " % (
        release, major_minor, int(patch) + 1)), depends
    for lib in ("libc6", "libmariadb3", "libhiredis0.14", "libxml2", "libxslt1.1",
                "libmicrohttpd12", "libgnutls30"):
        assert "%s (>= " % lib in depends, (lib, depends)
    # db_mysql of the example configs' authentication modes; the client db-migrate runs
    recommends = field(deb, "Recommends").split(", ")
    assert {"kamailio-mysql-modules", "mariadb-client"} <= set(recommends), recommends
    assert "kamailio" not in recommends


def test_package_files(deb):
    files = run(["dpkg-deb", "-c", deb]).stdout
    for path in [modules_dir() + "/pchat.so",
                 EXAMPLES + "/kamailio.cfg", EXAMPLES + "/pchat.cfg", EXAMPLES + "/pchat-auth.cfg",
                 EXAMPLES + "/frontend.cfg", EXAMPLES + "/pchat.lua", EXAMPLES + "/pchat-tls.cfg", SHARE + "/web/index.html", SHARE + "/web/app.js",
                 SHARE + "/db/mysql/001-initial.sql", SHARE + "/scripts/db-migrate",
                 SHARE + "/scripts/common.sh", "/usr/share/doc/%s/copyright" % PACKAGE,
                 "/usr/share/doc/%s/changelog.Debian.gz" % PACKAGE,
                 "/usr/share/doc/%s/pchat_admin.xml" % PACKAGE,
                 "/usr/share/doc/%s/webapi.md" % PACKAGE]:
        assert " .%s\n" % path in files, path
    for name in os.listdir(os.path.join(TOP, "db", "mysql")):
        assert " .%s/db/mysql/%s\n" % (SHARE, name) in files, name
    migrate = [line for line in files.splitlines() if line.endswith(SHARE + "/scripts/db-migrate")]
    assert migrate[0].startswith("-rwxr-xr-x root/root "), migrate
