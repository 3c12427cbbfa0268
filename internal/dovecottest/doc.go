// Package dovecottest runs a private Dovecot 2.3 IMAP server for tests and
// writes Maildir fixtures for it.
//
// Start writes a configuration, a throw-away CA and server certificate, a
// passwd-file with the fixture's users and a master user, and the users'
// Maildirs, all under t.TempDir(), then runs `dovecot -F -c DIR/dovecot.conf`
// on two free loopback ports: one plain IMAP port that offers STARTTLS
// (like 143) and one implicit-TLS port (like 993). The server is stopped and
// every one of its processes ended in t.Cleanup.
//
// Without the dovecot binary Start skips the test, except when the
// environment variable CI is set: there it fails, because CI must run these
// tests. Install with:
//
//	apt-get install -y --no-install-recommends dovecot-imapd dovecot-core
//
// Folder names in fixtures and on the wire are UTF-8 with '/' as the
// hierarchy separator (namespace inbox { separator = / }); on disk they are
// Maildir++ names in modified UTF-7 (RFC 3501 section 5.1.3), as Dovecot
// writes them.
//
// Dovecot reads INTERNALDATE from a message file's mtime and caches it in
// dovecot.index.cache on first access, so the fixture sets every mtime before
// the file becomes visible in new/ or cur/. To change a mailbox between two
// sessions use AddMessages, or DropIndexes and then edit the files.
package dovecottest
