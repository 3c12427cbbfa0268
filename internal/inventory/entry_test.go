package inventory

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
	"unsafe"
)

func TestEntryRoundTrip(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	tests := []struct {
		name string
		in   Fields
		want Fields // as Fields returns it
	}{
		{
			name: "all fields",
			in: Fields{Mailbox: "Ann.Lee@example.net", AccountID: "00420", CustomerType: "Business", Product: "Pro",
				Access: "imap", Created: time.Date(2019, 1, 31, 0, 0, 0, 0, time.UTC), ContactName: "Jürgen Müller",
				ContactPhone: "+49 30 1234567", Password: " s3cret ", Source: "inv.csv:2"},
			want: Fields{Mailbox: "Ann.Lee@example.net", AccountID: "00420", CustomerType: "Business", Product: "Pro",
				Access: "imap", Created: time.Date(2019, 1, 31, 0, 0, 0, 0, time.UTC), ContactName: "Jürgen Müller",
				ContactPhone: "+49 30 1234567", Password: " s3cret ", Source: "inv.csv:2"},
		},
		{
			name: "empty account is the mailbox",
			in:   Fields{Mailbox: "bob@example.net"},
			want: Fields{Mailbox: "bob@example.net", AccountID: "bob@example.net"},
		},
		{
			name: "zero value",
			in:   Fields{},
			want: Fields{},
		},
		{
			name: "created with zone offset and nanoseconds",
			in:   Fields{Mailbox: "a@x", Created: time.Date(2019, 1, 31, 8, 30, 0, 500, cet)},
			want: Fields{Mailbox: "a@x", AccountID: "a@x", Created: time.Date(2019, 1, 31, 8, 30, 0, 500, cet)},
		},
		{
			name: "created before 1970, negative offset",
			in:   Fields{Mailbox: "a@x", Created: time.Date(1901, 12, 14, 23, 59, 59, 0, time.FixedZone("", -9000))},
			want: Fields{Mailbox: "a@x", AccountID: "a@x", Created: time.Date(1901, 12, 14, 23, 59, 59, 0, time.FixedZone("", -9000))},
		},
		{
			name: "long values",
			in:   Fields{Mailbox: strings.Repeat("m", 300) + "@x", ContactName: strings.Repeat("ü", 200), Password: strings.Repeat("p", 70000)},
			want: Fields{Mailbox: strings.Repeat("m", 300) + "@x", AccountID: strings.Repeat("m", 300) + "@x",
				ContactName: strings.Repeat("ü", 200), Password: strings.Repeat("p", 70000)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewEntry(tt.in).Fields()
			created, wantCreated := got.Created, tt.want.Created
			got.Created, tt.want.Created = time.Time{}, time.Time{}
			if got != tt.want {
				t.Errorf("fields\n got %+v\nwant %+v", got, tt.want)
			}
			// Same instant and the same wall clock: Format shows both.
			if !created.Equal(wantCreated) || created.Format(time.RFC3339Nano) != wantCreated.Format(time.RFC3339Nano) {
				t.Errorf("created %v, want %v", created, wantCreated)
			}
		})
	}
}

func TestEntryHidesPassword(t *testing.T) {
	e := NewEntry(Fields{Mailbox: "a@x", Password: "hunter2", Source: "inv.csv:7"})
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		if s := fmt.Sprintf(format, e); strings.Contains(s, "hunter2") || !strings.Contains(s, "a@x") {
			t.Errorf("%s: %q", format, s)
		}
	}
	if s := fmt.Sprintf("%+v", []Entry{e}); strings.Contains(s, "hunter2") {
		t.Errorf("slice: %q", s)
	}
}

// The reader packs entries into shared blocks: each must still read back
// its own values, and a block must not be written over.
func TestReadPacksEntries(t *testing.T) {
	var b strings.Builder
	b.WriteString("email;account;type;product;created;access;name;phone\n")
	const n = 5000
	for i := range n {
		fmt.Fprintf(&b, "u%d@Example.NET;%05d;%s;P%d;2019-01-%02d;imap;Name-%s;+41 %d\n",
			i, i/3, []string{"Business", "Residential"}[i%2], i%4, i%28+1, strings.Repeat("x", i%300), i)
	}
	inv, err := Read(writeFile(t, "big.csv", b.String()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Entries) != n {
		t.Fatalf("%d entries", len(inv.Entries))
	}
	for i, e := range inv.Entries {
		want := fmt.Sprintf("u%d@example.net|%05d|%s|P%d|2019-01-%02dT00:00:00Z|imap|Name-%s|+41 %d||big.csv:%d",
			i, i/3, []string{"Business", "Residential"}[i%2], i%4, i%28+1, strings.Repeat("x", i%300), i, i+2)
		if got := brief(e); got != want {
			t.Fatalf("entry %d\n got %q\nwant %q", i, got, want)
		}
	}
	// Rows that agree on type, product and access share them.
	if inv.Entries[0].attr != inv.Entries[4].attr || inv.Entries[0].attr == inv.Entries[1].attr {
		t.Errorf("attrs not shared as expected")
	}
}

func TestIndex(t *testing.T) {
	var es []Entry
	for _, m := range []string{"Ann@example.net", "bob@example.net", "h\u00e9l\u00e8ne@\u00e9cole.example", "İdil@x.example"} {
		es = append(es, NewEntry(Fields{Mailbox: m}))
	}
	for i := range 3000 { // enough to grow the table several times
		es = append(es, NewEntry(Fields{Mailbox: fmt.Sprintf("user%d@example.net", i)}))
	}
	x := NewIndex(es)
	tests := []struct {
		mailbox string
		want    int // -1: absent
	}{
		{"Ann@example.net", 0},
		{"ann@EXAMPLE.net", 0},
		{"bob@example.net", 1},
		{"H\u00c9L\u00c8NE@\u00e9cole.example", 2},
		{"idil@x.example", 3}, // strings.ToLower("İ") is "i": one byte, not two
		{"IDİL@x.example", 3},
		{"user2999@example.net", 3003},
		{"USER0@example.net", 4},
		{"user3000@example.net", -1},
		{"an@example.net", -1},
		{"", -1},
	}
	for _, tt := range tests {
		got, ok := x.Lookup(tt.mailbox)
		if ok != (tt.want >= 0) || ok && got != tt.want {
			t.Errorf("Lookup(%q) = %d, %v; want %d", tt.mailbox, got, ok, tt.want)
		}
	}
}

func TestGroupAccounts(t *testing.T) {
	var es []Entry
	accounts := []string{"00420", "00420", "", "0420", "7", "00420", "7", ""}
	for i, a := range accounts {
		es = append(es, NewEntry(Fields{Mailbox: fmt.Sprintf("m%d@x", i), AccountID: a}))
	}
	g := GroupAccounts(es)
	// "" is each mailbox's own account: m2@x and m7@x are two accounts.
	if g.Len() != 5 || g.Multi() != 2 {
		t.Errorf("Len %d, Multi %d; want 5, 2", g.Len(), g.Multi())
	}
	want := []int{3, 3, 1, 1, 2, 3, 2, 1}
	for i, w := range want {
		if got := g.Mailboxes(i); got != w {
			t.Errorf("Mailboxes(%d) = %d, want %d", i, got, w)
		}
	}
	if g := GroupAccounts(nil); g.Len() != 0 || g.Multi() != 0 {
		t.Errorf("empty: Len %d, Multi %d", g.Len(), g.Multi())
	}
}

// An inventory costs little more than its text: the entries of a million
// rows must fit well under the 256 MiB the whole dry run may use. Live
// heap per entry is measured on 50,000 rows of about 100 bytes.
func TestInventoryMemory(t *testing.T) {
	if size := unsafe.Sizeof(Entry{}); size > 24 {
		t.Errorf("Entry is %d bytes, want at most 24", size)
	}
	const rows = 50_000
	path := filepath.Join(t.TempDir(), "inv.csv")
	textBytes := writeInventory(t, path, rows)

	live := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := live()
	inv, err := Read(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	afterRead := live()
	x, g := NewIndex(inv.Entries), GroupAccounts(inv.Entries)
	afterIndex := live()
	runtime.KeepAlive(inv)
	runtime.KeepAlive(x)
	runtime.KeepAlive(g)
	if len(inv.Entries) != rows {
		t.Fatalf("%d entries", len(inv.Entries))
	}

	perEntry := float64(afterRead-before) / rows
	perIndex := float64(afterIndex-afterRead) / rows
	t.Logf("%.0f bytes of CSV a row, %.0f bytes live per entry, %.1f per entry for Index and Accounts",
		float64(textBytes)/rows, perEntry, perIndex)
	// Generous bounds: about 110 and 19 bytes today; before packing an
	// entry cost about 300.
	if perEntry > 150 {
		t.Errorf("%.0f bytes live per entry, want at most 150", perEntry)
	}
	if perIndex > 32 {
		t.Errorf("%.1f bytes per entry for Index and Accounts, want at most 32", perIndex)
	}
}

// writeInventory writes rows like a billing export (see
// BenchmarkReadCSV) and returns the file's size.
func writeInventory(tb testing.TB, path string, rows int) int64 {
	tb.Helper()
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "customer_id;email;segment;product;opened;access;contact;phone")
	for i := range rows {
		acc := i - i%3*(i%2) // some accounts hold several mailboxes
		fmt.Fprintf(w, "%08d;first.last%d@mail%d.example;%s;Home Plus;%02d.%02d.20%02d;%s;Jürgen Müller%d;+49 30 %07d\n",
			acc, i, i%50, []string{"Residential", "Business"}[i%5/4], i%28+1, i%12+1, i%25, []string{"imap", "webmail", "pop3"}[i%3], i%100, i)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return st.Size()
}
