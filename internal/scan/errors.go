package scan

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
)

// TimeoutError: a network step got no answer within its deadline. Transient.
type TimeoutError struct {
	Step  string
	After time.Duration
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("%s: no answer within %s", e.Step, e.After)
}

// NetError: the connection failed (refused, reset, closed, TLS alert).
// Transient.
type NetError struct {
	Step string
	Err  error
}

func (e *NetError) Error() string { return fmt.Sprintf("%s: %v", e.Step, e.Err) }
func (e *NetError) Unwrap() error { return e.Err }

// ProtocolError: the server said something the scanner cannot use, e.g. a
// folder name that is not valid modified UTF-7. Not transient: a retry would
// get the same answer.
type ProtocolError struct {
	Step string
	Msg  string
}

func (e *ProtocolError) Error() string { return fmt.Sprintf("%s: %s", e.Step, e.Msg) }

// SetupError: a problem with the scan's settings or the target (certificate,
// credentials, TLS requirement) that every mailbox would meet. The scan
// stops; Hint says what to change.
type SetupError struct {
	Msg  string
	Hint string
}

func (e *SetupError) Error() string {
	if e.Hint == "" {
		return e.Msg
	}
	return e.Msg + " (hint: " + e.Hint + ")"
}

// GreetingError: the server greeted with BYE (e.g. too many connections:
// transient) or PREAUTH (already authenticated as someone: the scanner cannot
// log in as each mailbox, a setup error).
type GreetingError struct {
	Greeting string
	PreAuth  bool
}

func (e *GreetingError) Error() string {
	if e.PreAuth {
		return "server greeted with PREAUTH (" + e.Greeting + "): the connection is already authenticated and cannot log in as a mailbox"
	}
	return "server refused the connection: " + e.Greeting
}

// CommandError: the server answered a command with NO or BAD.
type CommandError struct {
	Step string
	Err  *imap.Error
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("%s: %s", e.Step, describeIMAPError(e.Err))
}
func (e *CommandError) Unwrap() error { return e.Err }

func describeIMAPError(e *imap.Error) string {
	var b strings.Builder
	b.WriteString(string(e.Type))
	if e.Code != "" {
		b.WriteString(" [" + string(e.Code) + "]")
	}
	if e.Text != "" {
		b.WriteString(" " + e.Text)
	}
	return b.String()
}

func greetingError(g string) error {
	up := strings.ToUpper(g)
	switch {
	case strings.HasPrefix(up, "OK"):
		return nil
	case strings.HasPrefix(up, "PREAUTH"):
		return &GreetingError{Greeting: g, PreAuth: true}
	case strings.HasPrefix(up, "BYE"):
		return &GreetingError{Greeting: g}
	default:
		return &ProtocolError{Step: "greeting", Msg: fmt.Sprintf("not an IMAP greeting: %q", truncate(g, 120))}
	}
}

// transientCodes are RFC 5530 response codes that mean "try again later".
var transientCodes = map[imap.ResponseCode]bool{
	"UNAVAILABLE": true,
	"LIMIT":       true,
	"INUSE":       true,
	"SERVERBUG":   true,
}

var transientText = regexp.MustCompile(`(?i)too many|throttl|try again|temporar|overload|rate limit|busy`)

// IsTransient reports whether err is a fault worth retrying later: a
// timeout, a dropped or refused connection, BYE, or a NO carrying
// [UNAVAILABLE], [LIMIT], [INUSE], [SERVERBUG] or throttling text. Login
// refusals (findings) and setup errors are not transient.
func IsTransient(err error) bool {
	if err == nil {
		return false
	}
	var se *SetupError
	var pe *ProtocolError
	var le *LoginRefused
	if errors.As(err, &se) || errors.As(err, &pe) || errors.As(err, &le) {
		return false
	}
	var te *TimeoutError
	var ne *NetError
	if errors.As(err, &te) || errors.As(err, &ne) {
		return true
	}
	var ge *GreetingError
	if errors.As(err, &ge) {
		return !ge.PreAuth
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return transientCodes[ie.Code] || transientText.MatchString(ie.Text)
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return isConnErr(err)
}

var backoffHint = regexp.MustCompile(`(?i)(?:retry|try again)\D{0,20}(\d{1,4})\s*(s|sec|second|seconds|m|min|minute|minutes)\b`)

// SuggestedBackoff extracts a wait the server asked for ("try again in 30
// seconds"), or 0 when it named none.
func SuggestedBackoff(err error) time.Duration {
	if err == nil {
		return 0
	}
	m := backoffHint.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	if strings.HasPrefix(strings.ToLower(m[2]), "m") {
		return time.Duration(n) * time.Minute
	}
	return time.Duration(n) * time.Second
}

// isConnErr reports whether err is the connection failing (closed, reset,
// refused, EOF) rather than the server saying something unparseable.
func isConnErr(err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var errno syscall.Errno
	var nerr net.Error
	var oe *net.OpError
	if errors.As(err, &errno) || errors.As(err, &nerr) || errors.As(err, &oe) {
		return true
	}
	s := err.Error()
	return strings.Contains(s, "connection closed") || strings.Contains(s, "use of closed network connection") ||
		strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
