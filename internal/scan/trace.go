package scan

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// tracer writes the IMAP conversation of every connection to one writer,
// a line per protocol line, prefixed with the connection number, the
// mailbox and the direction. Credentials never reach it: the arguments of
// LOGIN and everything the client sends during AUTHENTICATE (including
// literals) are replaced by "[redacted]".
type tracer struct {
	mu   sync.Mutex
	w    io.Writer
	next atomic.Int64
}

func newTracer(w io.Writer) *tracer { return &tracer{w: w} }

func (t *tracer) wrap(c net.Conn, label string) net.Conn {
	return &traceConn{Conn: c, t: t, id: t.next.Add(1), label: label}
}

func (t *tracer) emit(id int64, label, dir, line string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	fmt.Fprintf(t.w, "%s #%d %s %s %s\n", time.Now().UTC().Format("15:04:05.000"), id, label, dir, line)
}

type traceConn struct {
	net.Conn
	t     *tracer
	id    int64
	label string

	mu      sync.Mutex
	in, out bytes.Buffer
	// credTag is the tag of a LOGIN or AUTHENTICATE in flight: until the
	// server's tagged answer, every client line is redacted.
	credTag string
}

func (c *traceConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.in.Write(p[:n])
		for _, line := range takeLines(&c.in) {
			if c.credTag != "" && strings.HasPrefix(line, c.credTag+" ") {
				c.credTag = ""
			}
			c.t.emit(c.id, c.label, "S:", line)
		}
		c.mu.Unlock()
	}
	return n, err
}

func (c *traceConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.out.Write(p)
	for _, line := range takeLines(&c.out) {
		c.t.emit(c.id, c.label, "C:", c.redact(line))
	}
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// redact hides credentials in one client line.
func (c *traceConn) redact(line string) string {
	if c.credTag != "" {
		return "[redacted]"
	}
	f := strings.Fields(line)
	if len(f) >= 2 {
		switch strings.ToUpper(f[1]) {
		case "LOGIN":
			c.credTag = f[0]
			return f[0] + " LOGIN [redacted]"
		case "AUTHENTICATE":
			c.credTag = f[0]
			if len(f) >= 3 {
				return f[0] + " AUTHENTICATE " + f[2] + " [redacted]"
			}
			return f[0] + " AUTHENTICATE"
		}
	}
	return line
}

// takeLines removes complete CRLF/LF-terminated lines from b.
func takeLines(b *bytes.Buffer) []string {
	var lines []string
	for {
		i := bytes.IndexByte(b.Bytes(), '\n')
		if i < 0 {
			return lines
		}
		line := strings.TrimRight(string(b.Next(i+1)), "\r\n")
		lines = append(lines, line)
	}
}
