// Package faultproxy is a TCP proxy for tests that injects the faults a
// sick mail platform shows: connections dropped or reset mid-command,
// servers that stop answering, links that crawl, and servers that turn
// clients away with BYE.
//
// A Proxy listens on 127.0.0.1 and forwards every connection to one
// upstream address. The fault is chosen per connection when it is accepted,
// so a test can switch faults at runtime (Set, SetFirst, Heal) and the
// connections already open keep the fault they were given. SetFirst limits
// a fault to the first K connections on which it fires, which lets a test
// prove that a retry or a rescan through the same proxy succeeds.
//
// The proxy looks at bytes, not at IMAP: triggers are substrings of what the
// client sends (" LIST " matches go-imap's "T3 LIST ..." and no mailbox name
// that lacks the spaces), and TLS passes through untouched, so the faults
// hit a TLS session as they would on the wire.
package faultproxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Kind is what the proxy does to a connection.
type Kind int

// Fault kinds.
const (
	// None forwards the connection untouched.
	None Kind = iota
	// Drop closes both sides (a FIN to each, as a crashed process or a
	// restarted server would) instead of forwarding the client bytes that
	// contain Fault.On; the upstream never sees them. Empty On: the first
	// client bytes. With Fault.Line set, that line and CRLF go to the client
	// first, e.g. "* BYE Server shutting down" (an untagged BYE
	// mid-session, RFC 9051 7.1.5).
	Drop
	// Reset closes the client side with a TCP RST (SO_LINGER 0) and the
	// upstream side with a FIN, instead of forwarding the client bytes that
	// contain Fault.On. Empty On: the first client bytes, which on an
	// implicit-TLS port is the TLS ClientHello; "\x16\x03" (a TLS handshake
	// record header) resets the handshake that follows STARTTLS.
	Reset
	// Stall stops forwarding server-to-client bytes and keeps both sockets
	// open, as a server that hangs does. It arms when the client has sent
	// Fault.On (empty: at once); after arming, Fault.Lines complete server
	// lines and then Fault.Bytes further server bytes pass before the stall.
	// Client-to-server bytes keep flowing.
	Stall
	// Slow forwards both directions in pieces of Fault.Chunk bytes
	// (default 1), one piece per Fault.Delay: a Delay of 1 ms and a Chunk
	// of 1 is a 1 kB/s link.
	Slow
	// Greet answers Fault.Line and CRLF in place of the server's greeting,
	// e.g. "* BYE Too many connections", and closes the connection; the
	// upstream is never dialled.
	Greet
)

func (k Kind) String() string {
	switch k {
	case None:
		return "none"
	case Drop:
		return "drop"
	case Reset:
		return "reset"
	case Stall:
		return "stall"
	case Slow:
		return "slow"
	case Greet:
		return "greet"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Fault describes the fault given to new connections. The zero value is
// no fault. Fields other than Kind apply only to the kinds named.
type Fault struct {
	Kind Kind
	// On is the client byte string that triggers Drop, Reset and Stall;
	// it is matched across read boundaries.
	On string
	// Lines and Bytes are what a Stall lets through after it arms: that
	// many server lines (ending in LF), then that many more bytes.
	Lines, Bytes int
	// Delay and Chunk set Slow's pace: a pause of Delay before every Chunk
	// bytes (Chunk 0 means 1).
	Delay time.Duration
	Chunk int
	// Line is Greet's answer, or what Drop says before it closes; without
	// CRLF.
	Line string
}

func (f Fault) String() string {
	switch f.Kind {
	case Drop, Reset:
		if f.Line != "" {
			return fmt.Sprintf("%s on %q after %q", f.Kind, f.On, f.Line)
		}
		return fmt.Sprintf("%s on %q", f.Kind, f.On)
	case Stall:
		return fmt.Sprintf("stall on %q after %d lines + %d bytes", f.On, f.Lines, f.Bytes)
	case Slow:
		return fmt.Sprintf("slow: %v per %d bytes", f.Delay, max(f.Chunk, 1))
	case Greet:
		return fmt.Sprintf("greet %q", f.Line)
	}
	return f.Kind.String()
}

// Stats counts what the proxy did since New.
type Stats struct {
	Connections int // connections accepted
	Fired       int // connections on which a fault fired
	Open        int // connections open now
}

// Proxy forwards connections to an upstream address with faults. Its
// methods are safe for concurrent use.
type Proxy struct {
	// Addr is where clients connect: "127.0.0.1:PORT".
	Addr string

	upstream string
	ln       net.Listener
	t        testing.TB

	mu     sync.Mutex
	fault  Fault
	budget *atomic.Int64 // fires left for fault; nil: unlimited
	conns  map[*link]struct{}
	closed bool

	accepted, fired atomic.Int64
	wg              sync.WaitGroup
}

// New starts a proxy on 127.0.0.1:0 that forwards to upstream (host:port)
// without faults until Set or SetFirst says otherwise. It is closed, with
// every connection it holds, in t.Cleanup.
func New(t testing.TB, upstream string) *Proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("faultproxy: listen: %v", err)
	}
	p := &Proxy{Addr: ln.Addr().String(), upstream: upstream, ln: ln, t: t, conns: map[*link]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.Close)
	return p
}

// Set gives f to every new connection.
func (p *Proxy) Set(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fault, p.budget = f, nil
}

// SetFirst gives f to new connections until it has fired on k of them;
// later connections, and those on which it never fired (its trigger was not
// sent), are forwarded untouched. For Slow and Greet a fault fires when the
// connection is accepted, for Drop and Reset when the trigger arrives, and
// for Stall when the stall begins.
func (p *Proxy) SetFirst(k int, f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := new(atomic.Int64)
	b.Store(int64(k))
	p.fault, p.budget = f, b
}

// Heal makes new connections healthy; open ones keep their fault.
func (p *Proxy) Heal() { p.Set(Fault{}) }

// Stats returns the counters.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	open := len(p.conns)
	p.mu.Unlock()
	return Stats{Connections: int(p.accepted.Load()), Fired: int(p.fired.Load()), Open: open}
}

// Close stops listening, closes every open connection (stalled ones
// included) and waits for the proxy's goroutines. Calling it twice is fine.
func (p *Proxy) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.ln.Close()
	for l := range p.conns {
		l.close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.t.Logf("faultproxy: accept: %v", err)
			}
			return
		}
		p.accepted.Add(1)
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		l := &link{p: p, client: c, fault: p.fault, budget: p.budget, done: make(chan struct{})}
		p.conns[l] = struct{}{}
		p.wg.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			l.serve()
			p.mu.Lock()
			delete(p.conns, l)
			p.mu.Unlock()
		}()
	}
}

// link is one proxied connection.
type link struct {
	p      *Proxy
	client net.Conn
	fault  Fault
	budget *atomic.Int64

	mu       sync.Mutex
	upstream net.Conn
	armed    bool // Stall: the trigger was seen

	once sync.Once
	done chan struct{}
}

// take reports whether the fault may fire now, and counts it if so.
func (l *link) take() bool {
	if l.budget != nil && l.budget.Add(-1) < 0 {
		return false
	}
	l.p.fired.Add(1)
	return true
}

func (l *link) close() {
	l.once.Do(func() {
		close(l.done)
		l.client.Close()
		l.mu.Lock()
		if l.upstream != nil {
			l.upstream.Close()
		}
		l.mu.Unlock()
	})
}

func (l *link) serve() {
	defer l.close()
	f := l.fault
	slow := false
	switch f.Kind {
	case Greet:
		if l.take() {
			_, _ = io.WriteString(l.client, f.Line+"\r\n")
			return
		}
	case Slow:
		slow = l.take()
	case Stall:
		l.armed = f.On == ""
	}
	up, err := net.DialTimeout("tcp", l.p.upstream, 5*time.Second)
	if err != nil {
		l.p.t.Logf("faultproxy: dial %s: %v", l.p.upstream, err)
		return
	}
	l.mu.Lock()
	l.upstream = up
	l.mu.Unlock()
	select {
	case <-l.done: // Close ran while dialling
		up.Close()
		return
	default:
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); defer l.close(); l.clientToServer(up, slow) }()
	go func() { defer wg.Done(); defer l.close(); l.serverToClient(up, slow) }()
	wg.Wait()
}

func (l *link) clientToServer(up net.Conn, slow bool) {
	f := l.fault
	var pace *pacer
	if slow {
		pace = newPacer(f)
	}
	watch := f.Kind == Drop || f.Kind == Reset || (f.Kind == Stall && f.On != "")
	var tail []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := l.client.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if watch && l.triggered(&tail, chunk) {
				watch = false
				switch f.Kind {
				case Drop:
					if l.take() {
						if f.Line != "" {
							_, _ = io.WriteString(l.client, f.Line+"\r\n")
						}
						return // close() closes both sides with a FIN
					}
				case Reset:
					if l.take() {
						if tc, ok := l.client.(*net.TCPConn); ok {
							_ = tc.SetLinger(0)
						}
						return
					}
				case Stall:
					// Armed before the bytes go up, so the server's answer to
					// them cannot overtake the stall.
					l.mu.Lock()
					l.armed = true
					l.mu.Unlock()
				}
			}
			if err := pace.write(up, chunk); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// triggered reports whether On occurs in the bytes seen so far, keeping in
// tail the end of chunk that a later chunk may complete.
func (l *link) triggered(tail *[]byte, chunk []byte) bool {
	on := l.fault.On
	if on == "" {
		return true
	}
	window := append(*tail, chunk...)
	if bytes.Contains(window, []byte(on)) {
		return true
	}
	keep := min(len(window), len(on)-1)
	*tail = append((*tail)[:0], window[len(window)-keep:]...)
	return false
}

func (l *link) serverToClient(up net.Conn, slow bool) {
	f := l.fault
	var pace *pacer
	if slow {
		pace = newPacer(f)
	}
	stall := f.Kind == Stall
	lines, bytesLeft := f.Lines, f.Bytes
	buf := make([]byte, 32<<10)
	for {
		n, err := up.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			if stall {
				l.mu.Lock()
				armed := l.armed
				l.mu.Unlock()
				if armed {
					pass := 0
					for lines > 0 && pass < len(chunk) {
						i := bytes.IndexByte(chunk[pass:], '\n')
						if i < 0 {
							pass = len(chunk)
							break
						}
						pass += i + 1
						lines--
					}
					if lines == 0 {
						extra := min(bytesLeft, len(chunk)-pass)
						pass += extra
						bytesLeft -= extra
					}
					if lines == 0 && bytesLeft == 0 {
						if werr := pace.write(l.client, chunk[:pass]); werr != nil {
							return
						}
						if l.take() {
							<-l.done // hold both sockets open until the client or Close ends it
							return
						}
						stall = false
						chunk = chunk[pass:]
					}
				}
			}
			if err := pace.write(l.client, chunk); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// pacer spaces Slow's pieces Delay apart. The pace is kept against the
// clock rather than by sleeping Delay per piece, because a sleep lasts at
// least the timer's resolution (about 1 ms here): a Delay of 100 us still
// comes to 100 us per piece on average. Idle time is not saved up as credit.
type pacer struct {
	delay time.Duration
	chunk int
	next  time.Time
}

func newPacer(f Fault) *pacer { return &pacer{delay: f.Delay, chunk: max(f.Chunk, 1)} }

// write writes b to w: at once when p is nil, else in paced pieces.
func (p *pacer) write(w net.Conn, b []byte) error {
	if p == nil {
		_, err := w.Write(b)
		return err
	}
	for len(b) > 0 {
		now := time.Now()
		if p.next.Before(now) {
			p.next = now
		}
		p.next = p.next.Add(p.delay)
		if d := p.next.Sub(now); d >= time.Millisecond {
			time.Sleep(d)
		}
		n := min(p.chunk, len(b))
		if _, err := w.Write(b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return nil
}
