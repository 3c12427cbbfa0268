package faultproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const greeting = "* OK ready\r\n"

// answer is what lineServer answers to "tag CMD ...".
func answer(tag, cmd string) string {
	return "* " + cmd + " " + strings.Repeat("x", 40) + "\r\n" + tag + " OK " + cmd + " done\r\n"
}

// lineServer is an IMAP-shaped upstream: it greets, then answers every
// line "tag CMD ..." with answer(tag, CMD). It records what each connection
// sent.
type lineServer struct {
	addr  string
	mu    sync.Mutex
	got   []*strings.Builder
	conns sync.WaitGroup // connections being served
}

func newLineServer(t *testing.T) *lineServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &lineServer{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	var open sync.Map
	t.Cleanup(func() {
		ln.Close()
		open.Range(func(k, _ any) bool { k.(net.Conn).Close(); return true })
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			open.Store(c, true)
			s.conns.Add(1)
			b := &strings.Builder{}
			s.mu.Lock()
			s.got = append(s.got, b)
			s.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer s.conns.Done()
				defer c.Close()
				defer open.Delete(c)
				if _, err := io.WriteString(c, greeting); err != nil {
					return
				}
				br := bufio.NewReader(c)
				for {
					line, err := br.ReadString('\n')
					s.mu.Lock()
					b.WriteString(line)
					s.mu.Unlock()
					if err != nil {
						return
					}
					f := strings.Fields(line)
					if len(f) < 2 {
						continue
					}
					if _, err := io.WriteString(c, answer(f[0], f[1])); err != nil {
						return
					}
				}
			}()
		}
	}()
	return s
}

// received returns what the upstream's connections received, in accept
// order, once every connection has ended.
func (s *lineServer) received() []string {
	s.conns.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.got))
	for i, b := range s.got {
		out[i] = b.String()
	}
	return out
}

type ending int

const (
	more    ending = iota // the connection goes on
	eof                   // the next read ends in EOF
	reset                 // the next read fails with ECONNRESET
	silence               // the next read gets nothing within 300 ms, the socket stays open
)

func (e ending) String() string {
	return [...]string{"more", "EOF", "reset", "silence"}[e]
}

// step writes sends (pausing 30 ms between them, so the proxy reads them
// separately), then expects exactly want and then end.
type step struct {
	sends []string
	want  string
	end   ending
}

func converse(t *testing.T, addr string, steps []step) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i, s := range steps {
		for j, m := range s.sends {
			if j > 0 {
				time.Sleep(30 * time.Millisecond)
			}
			if _, err := io.WriteString(c, m); err != nil {
				t.Fatalf("step %d: write %q: %v", i, m, err)
			}
		}
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, len(s.want))
		if n, err := io.ReadFull(c, buf); err != nil || string(buf) != s.want {
			t.Fatalf("step %d: read %q (%v), want %q", i, buf[:n], err, s.want)
		}
		if s.end == more {
			continue
		}
		wait := 2 * time.Second
		if s.end == silence {
			wait = 300 * time.Millisecond
		}
		_ = c.SetReadDeadline(time.Now().Add(wait))
		n, err := c.Read(make([]byte, 1))
		got := "data"
		switch {
		case n > 0:
		case errors.Is(err, io.EOF):
			got = "EOF"
		case errors.Is(err, syscall.ECONNRESET):
			got = "reset"
		case errors.Is(err, os.ErrDeadlineExceeded):
			got = "silence"
		default:
			got = err.Error()
		}
		if got != s.end.String() {
			t.Fatalf("step %d: after %q got %s, want %s", i, s.want, got, s.end)
		}
		return
	}
}

func TestFaults(t *testing.T) {
	list := `b LIST "" *` + "\r\n"
	cases := []struct {
		name  string
		fault Fault
		steps []step
		// upstream: what the upstream connection received; -1 conns: none dialled.
		upstream  string
		noConn    bool
		minTime   time.Duration
		wantFired int
	}{
		{"healthy", Fault{}, []step{
			{nil, greeting, more},
			{[]string{list}, answer("b", "LIST"), more},
		}, list, false, 0, 0},
		{"drop on LIST", Fault{Kind: Drop, On: " LIST "}, []step{
			{nil, greeting, more},
			{[]string{"a NOOP\r\n"}, answer("a", "NOOP"), more},
			{[]string{list}, "", eof},
		}, "a NOOP\r\n", false, 0, 1},
		{"drop on LIST with a BYE", Fault{Kind: Drop, On: " LIST ", Line: "* BYE shutting down"}, []step{
			{nil, greeting, more},
			{[]string{list}, "* BYE shutting down\r\n", eof},
		}, "", false, 0, 1},
		{"drop on a trigger split across reads", Fault{Kind: Drop, On: " LIST "}, []step{
			{nil, greeting, more},
			{[]string{"b LI", "ST x\r\n"}, "", eof},
		}, "b LI", false, 0, 1},
		{"reset on the first client bytes", Fault{Kind: Reset}, []step{
			{nil, greeting, more},
			{[]string{"\x16\x03\x01hello"}, "", reset},
		}, "", false, 0, 1},
		{"reset on a TLS record after STARTTLS", Fault{Kind: Reset, On: "\x16\x03"}, []step{
			{nil, greeting, more},
			{[]string{"S0 STARTTLS\r\n"}, answer("S0", "STARTTLS"), more},
			{[]string{"\x16\x03\x01hello"}, "", reset},
		}, "S0 STARTTLS\r\n", false, 0, 1},
		{"stall before the greeting", Fault{Kind: Stall}, []step{
			{nil, "", silence},
		}, "", false, 0, 1},
		{"stall after the greeting", Fault{Kind: Stall, Lines: 1}, []step{
			{nil, greeting, more},
			{[]string{"a NOOP\r\n"}, "", silence},
		}, "a NOOP\r\n", false, 0, 1},
		{"stall mid-response", Fault{Kind: Stall, On: " LIST ", Bytes: 10}, []step{
			{nil, greeting, more},
			{[]string{"a NOOP\r\n"}, answer("a", "NOOP"), more},
			{[]string{list}, answer("b", "LIST")[:10], silence},
		}, "a NOOP\r\n" + list, false, 0, 1},
		{"stall after a line of the response", Fault{Kind: Stall, On: " LIST ", Lines: 1, Bytes: 3}, []step{
			{nil, greeting, more},
			{[]string{list}, answer("b", "LIST")[:len(answer("b", "LIST"))-len("b OK LIST done\r\n")] + "b O", silence},
		}, list, false, 0, 1},
		{"slow", Fault{Kind: Slow, Delay: 2 * time.Millisecond, Chunk: 2}, []step{
			{nil, greeting, more},
			{[]string{"a NOOP\r\n"}, answer("a", "NOOP"), more},
		}, "a NOOP\r\n", false, time.Duration(len(greeting)+len(answer("a", "NOOP"))) / 2 * 2 * time.Millisecond, 1},
		{"BYE greeting", Fault{Kind: Greet, Line: "* BYE Too many connections"}, []step{
			{nil, "* BYE Too many connections\r\n", eof},
		}, "", true, 0, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up := newLineServer(t)
			p := New(t, up.addr)
			p.Set(c.fault)
			start := time.Now()
			converse(t, p.Addr, c.steps)
			if el := time.Since(start); el < c.minTime {
				t.Errorf("took %v, want at least %v", el, c.minTime)
			}
			// Closing the proxy ends the upstream connections too.
			p.Close()
			got := up.received()
			if c.noConn {
				if len(got) != 0 {
					t.Errorf("upstream dialled: %q", got)
				}
			} else if len(got) != 1 || got[0] != c.upstream {
				t.Errorf("upstream received %q, want [%q]", got, c.upstream)
			}
			st := p.Stats()
			if st.Connections != 1 || st.Fired != c.wantFired || st.Open != 0 {
				t.Errorf("stats %+v, want 1 connection, %d fired, 0 open", st, c.wantFired)
			}
		})
	}
}

// TestSetFirst: the fault fires on the first k connections that reach its
// trigger; a connection that never sends the trigger does not use it up.
func TestSetFirst(t *testing.T) {
	list := `b LIST "" *` + "\r\n"
	dropped := []step{{nil, greeting, more}, {[]string{list}, "", eof}}
	healthy := []step{{nil, greeting, more}, {[]string{list}, answer("b", "LIST"), more}}
	noop := []step{{nil, greeting, more}, {[]string{"a NOOP\r\n"}, answer("a", "NOOP"), more}}
	cases := []struct {
		name  string
		k     int
		fault Fault
		convs [][]step
		fired int
	}{
		{"drop the first LIST only", 1, Fault{Kind: Drop, On: " LIST "}, [][]step{dropped, healthy, healthy}, 1},
		{"a connection without the trigger does not count", 1, Fault{Kind: Drop, On: " LIST "}, [][]step{noop, dropped, healthy}, 1},
		{"two BYEs then service", 2, Fault{Kind: Greet, Line: "* BYE busy"}, [][]step{
			{{nil, "* BYE busy\r\n", eof}}, {{nil, "* BYE busy\r\n", eof}}, healthy, healthy}, 2},
		{"zero: never", 0, Fault{Kind: Stall}, [][]step{healthy}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up := newLineServer(t)
			p := New(t, up.addr)
			p.SetFirst(c.k, c.fault)
			for _, conv := range c.convs {
				converse(t, p.Addr, conv)
			}
			if st := p.Stats(); st.Fired != c.fired || st.Connections != len(c.convs) {
				t.Errorf("stats %+v, want %d connections, %d fired", st, len(c.convs), c.fired)
			}
		})
	}
}

// TestSwitchAtRuntime: a fault applies to connections accepted after Set;
// open connections keep theirs.
func TestSwitchAtRuntime(t *testing.T) {
	up := newLineServer(t)
	p := New(t, up.addr)
	p.Set(Fault{Kind: Drop, On: " LIST "})
	faulty, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer faulty.Close()
	br := bufio.NewReader(faulty)
	if l, err := br.ReadString('\n'); err != nil || l != greeting {
		t.Fatalf("greeting %q %v", l, err)
	}
	p.Heal()
	converse(t, p.Addr, []step{{nil, greeting, more}, {[]string{"b LIST x\r\n"}, answer("b", "LIST"), more}})
	if _, err := io.WriteString(faulty, "c LIST x\r\n"); err != nil {
		t.Fatal(err)
	}
	_ = faulty.SetReadDeadline(time.Now().Add(2 * time.Second))
	if l, err := br.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Errorf("connection opened before Heal: read %q %v, want EOF", l, err)
	}
	if st := p.Stats(); st.Connections != 2 || st.Fired != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestCloseEndsStalledConnections: Close does not wait for a stalled
// client to give up.
func TestCloseEndsStalledConnections(t *testing.T) {
	up := newLineServer(t)
	p := New(t, up.addr)
	p.Set(Fault{Kind: Stall})
	c, err := net.Dial("tcp", p.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(2 * time.Second)
	for p.Stats().Fired == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	start := time.Now()
	p.Close()
	if el := time.Since(start); el > time.Second {
		t.Errorf("Close took %v", el)
	}
	_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(make([]byte, 64)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("stalled client after Close: %d bytes, %v; want EOF", n, err)
	}
	if st := p.Stats(); st.Open != 0 || st.Fired != 1 {
		t.Errorf("stats %+v", st)
	}
}

// TestUpstreamDown: a client of a proxy whose upstream refuses is closed,
// not left hanging.
func TestUpstreamDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	p := New(t, addr)
	converse(t, p.Addr, []step{{nil, "", eof}})
}

func TestFaultString(t *testing.T) {
	cases := []struct {
		f    Fault
		want string
	}{
		{Fault{}, "none"},
		{Fault{Kind: Drop, On: " LIST "}, `drop on " LIST "`},
		{Fault{Kind: Reset}, `reset on ""`},
		{Fault{Kind: Drop, On: " LIST ", Line: "* BYE x"}, `drop on " LIST " after "* BYE x"`},
		{Fault{Kind: Stall, On: " LIST ", Bytes: 40}, `stall on " LIST " after 0 lines + 40 bytes`},
		{Fault{Kind: Slow, Delay: time.Millisecond}, "slow: 1ms per 1 bytes"},
		{Fault{Kind: Greet, Line: "* BYE x"}, `greet "* BYE x"`},
		{Fault{Kind: Kind(9)}, "Kind(9)"},
	}
	for _, c := range cases {
		if got := c.f.String(); got != c.want {
			t.Errorf("%#v: %q, want %q", c.f, got, c.want)
		}
	}
}

// TestSlowPace: a Delay below the timer's resolution still sets the pace.
func TestSlowPace(t *testing.T) {
	cases := []struct {
		delay time.Duration
		chunk int
		size  int
	}{
		{100 * time.Microsecond, 1, 2000},
		{time.Millisecond, 10, 2000},
		{3 * time.Millisecond, 100, 5000},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%v per %d bytes", c.delay, c.chunk), func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			payload := strings.Repeat("0123456789", c.size/10)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				_, _ = io.WriteString(c, payload)
			}()
			p := New(t, ln.Addr().String())
			p.Set(Fault{Kind: Slow, Delay: c.delay, Chunk: c.chunk})
			conn, err := net.Dial("tcp", p.Addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			got, err := io.ReadAll(conn)
			el := time.Since(start)
			if err != nil || string(got) != payload {
				t.Fatalf("read %d bytes, %v", len(got), err)
			}
			want := time.Duration(c.size/c.chunk) * c.delay
			if el < want*9/10 || el > want*2 {
				t.Errorf("%d bytes in %v, want about %v", c.size, el, want)
			}
		})
	}
}
