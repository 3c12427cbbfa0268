package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"

	"github.com/impact-ops/impact/internal/results"
)

func newLogger(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// penaltyAdvice says what removes Dovecot's authentication penalty for the
// scan. Measured on Dovecot 2.3.19: login_trusted_networks does not exempt
// an address from the penalty there (the login process no longer asks the
// auth process to skip it), so the advice names both remedies.
func penaltyAdvice(t results.Target) string {
	addr := t.LocalAddr
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	return fmt.Sprintf(`Dovecot's authentication penalty is slowing this scan: after each failed login (a mailbox
that is gone), the server makes every login from this scanner's address (%s) wait 4, 8 or
15 s. The server is idle meanwhile; impact does not read this as overload. To remove it for the
scan, on the IMAP server:
  - put %s in login_trusted_networks, on Dovecot versions that exempt trusted networks from
    the penalty (2.3.19, measured, does not); or
  - switch the penalty off while the scan runs:  service anvil { unix_listener anvil-auth-penalty
    { mode = 0 } }  then doveadm reload, and restore it afterwards.
Do not work around it from the client side (e.g. rotating source addresses).`, addr, addr)
}
