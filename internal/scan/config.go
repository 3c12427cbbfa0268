// Package scan probes mailboxes over IMAP, strictly read-only.
//
// A probe logs in (as a master user or with an authorization identity, or
// with the mailbox's own password), lists every folder and counts the
// messages whose INTERNALDATE is before and at/after the cutoff. The only
// commands sent are LOGIN/AUTHENTICATE, CAPABILITY, LIST, STATUS, EXAMINE,
// SEARCH, FETCH (UID, INTERNALDATE) and LOGOUT: never SELECT, STORE,
// EXPUNGE, APPEND, CREATE, DELETE, RENAME or SUBSCRIBE, and never a body
// fetch, so the \Seen flag cannot be set (RFC 9051 6.3.3, 6.4.5).
//
// The go-imap v2 client has no context support: every network step here
// runs under its own deadline and the connection is closed when the deadline
// or the caller's context ends, so a server that stops answering costs one
// mailbox a timeout, never the scan.
package scan

import (
	"crypto/tls"
	"fmt"
	"io"
	"time"
)

// TLSMode is how the connection is secured.
type TLSMode string

// TLS modes.
const (
	TLSImplicit TLSMode = "implicit" // TLS from the first byte (port 993)
	TLSStartTLS TLSMode = "starttls" // plaintext greeting, then STARTTLS (RFC 9051 6.2.1)
	TLSNone     TLSMode = "none"     // plaintext throughout: loopback tests only
)

// AuthMode is how the scanner logs in to each mailbox.
type AuthMode string

// Authentication modes.
const (
	// AuthMaster logs in with LOGIN "mailbox<sep>masteruser" (Dovecot's
	// master-user convention, auth_master_user_separator).
	AuthMaster AuthMode = "master"
	// AuthAuthzID uses AUTHENTICATE PLAIN with the mailbox as authorization
	// identity and the master user as authentication identity (RFC 4616).
	AuthAuthzID AuthMode = "authzid"
	// AuthPassword logs in as the mailbox with its own password.
	AuthPassword AuthMode = "password"
)

// Timeouts bound every network step. Zero values take the defaults.
type Timeouts struct {
	Connect  time.Duration // TCP connect and TLS handshake; default 10 s
	Greeting time.Duration // server greeting and capabilities; default 15 s
	// Login bounds LOGIN/AUTHENTICATE. Dovecot answers a failed login only
	// after auth_failure_delay (2 s) and then holds later logins from the
	// same address up to 15 s: the default of 45 s keeps those waits from
	// being misread as timeouts.
	Login   time.Duration
	Command time.Duration // every other command; default 30 s
	// Probe bounds one whole probe of a mailbox; default 5 min.
	Probe time.Duration
}

func (t Timeouts) withDefaults() Timeouts {
	if t.Connect <= 0 {
		t.Connect = 10 * time.Second
	}
	if t.Greeting <= 0 {
		t.Greeting = 15 * time.Second
	}
	if t.Login <= 0 {
		t.Login = 45 * time.Second
	}
	if t.Command <= 0 {
		t.Command = 30 * time.Second
	}
	if t.Probe <= 0 {
		t.Probe = 5 * time.Minute
	}
	return t
}

// Config says which server to probe and how to log in.
type Config struct {
	Server    string // host:port
	TLS       TLSMode
	TLSConfig *tls.Config // nil: system roots, verification on

	Auth            AuthMode
	MasterUser      string
	MasterPassword  string // never logged
	MasterSeparator string // default "*"

	// Cutoff is the instant of the incident: INTERNALDATE < Cutoff is "before".
	Cutoff time.Time

	Timeouts Timeouts

	// Trace, when set, receives the IMAP conversation with credentials
	// redacted (LOGIN arguments and AUTHENTICATE responses).
	Trace io.Writer
}

func (c *Config) separator() string {
	if c.MasterSeparator == "" {
		return "*"
	}
	return c.MasterSeparator
}

// Validate checks the configuration before any connection is made.
func (c *Config) Validate() error {
	switch c.TLS {
	case TLSImplicit, TLSStartTLS, TLSNone:
	default:
		return fmt.Errorf("unknown TLS mode %q (want implicit, starttls or none)", c.TLS)
	}
	switch c.Auth {
	case AuthMaster, AuthAuthzID:
		if c.MasterUser == "" {
			return fmt.Errorf("auth %s needs a master user", c.Auth)
		}
		if c.MasterPassword == "" {
			return fmt.Errorf("auth %s needs the master password", c.Auth)
		}
	case AuthPassword:
	default:
		return fmt.Errorf("unknown auth mode %q (want master, authzid or password)", c.Auth)
	}
	if c.Cutoff.IsZero() {
		return fmt.Errorf("no cutoff")
	}
	return nil
}
