package inventory

import (
	"hash/maphash"
	"unicode/utf8"
)

// table is an open-addressing hash table (linear probing) of entry
// indexes. The entries hold the keys, so the table itself costs about 10
// bytes per entry: a map from strings would cost more than the entries.
type table struct {
	slots []uint32 // entry index + 1; 0 is an empty slot
	tags  []uint8  // top byte of the hash of the slot's key
	n     int
}

// lookup returns the index whose key has hash h and satisfies eq, or -1.
func (t *table) lookup(h uint64, eq func(i int) bool) int {
	if len(t.slots) == 0 {
		return -1
	}
	mask, tag := uint64(len(t.slots)-1), uint8(h>>56)
	for p := h & mask; ; p = (p + 1) & mask {
		s := t.slots[p]
		if s == 0 {
			return -1
		}
		if t.tags[p] == tag && eq(int(s-1)) {
			return int(s - 1)
		}
	}
}

// insert adds index i, whose key (not yet in the table) has hash h. hash
// gives the hash of an index already in the table, for growing it.
func (t *table) insert(h uint64, i int, hash func(i int) uint64) {
	if (t.n+1)*4 > len(t.slots)*3 {
		t.resize(t.n+1, hash)
	}
	t.put(h, i)
	t.n++
}

func (t *table) put(h uint64, i int) {
	mask := uint64(len(t.slots) - 1)
	p := h & mask
	for t.slots[p] != 0 {
		p = (p + 1) & mask
	}
	t.slots[p], t.tags[p] = uint32(i+1), uint8(h>>56)
}

// resize makes room for n indexes at most three quarters full, rehashing
// the ones in the table.
func (t *table) resize(n int, hash func(i int) uint64) {
	size := 16
	for size*3 < n*4 {
		size *= 2
	}
	if size <= len(t.slots) {
		return
	}
	old := t.slots
	t.slots, t.tags = make([]uint32, size), make([]uint8, size)
	for _, s := range old {
		if s != 0 {
			t.put(hash(int(s-1)), int(s-1))
		}
	}
}

// foldHash hashes a mailbox as mailboxKey folds it, without allocating
// for the usual short ASCII mailbox.
func foldHash(seed maphash.Seed, m string) uint64 {
	var buf [128]byte
	if len(m) > len(buf) {
		return maphash.String(seed, mailboxKey(m))
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		switch {
		case c >= utf8.RuneSelf:
			return maphash.String(seed, mailboxKey(m))
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	return maphash.Bytes(seed, buf[:len(m)])
}

// sameMailbox reports whether two mailboxes have the same mailboxKey.
func sameMailbox(a, b string) bool {
	if len(a) == len(b) {
		i := 0
		for ; i < len(a); i++ {
			x, y := a[i], b[i]
			if x >= utf8.RuneSelf || y >= utf8.RuneSelf {
				break
			}
			if x != y && (x|0x20 != y|0x20 || x|0x20 < 'a' || x|0x20 > 'z') {
				return false
			}
		}
		if i == len(a) {
			return true
		}
	}
	return mailboxKey(a) == mailboxKey(b)
}

// mailboxTable finds entries by mailbox, compared as mailboxKey compares.
type mailboxTable struct {
	seed maphash.Seed
	t    table
}

func newMailboxTable() *mailboxTable { return &mailboxTable{seed: maphash.MakeSeed()} }

func (m *mailboxTable) find(entries []Entry, mailbox string) int {
	return m.t.lookup(foldHash(m.seed, mailbox), func(i int) bool { return sameMailbox(entries[i].Mailbox(), mailbox) })
}

// add records entries[i], whose mailbox is not in the table yet.
func (m *mailboxTable) add(entries []Entry, i int) {
	m.t.insert(foldHash(m.seed, entries[i].Mailbox()), i, func(j int) uint64 { return foldHash(m.seed, entries[j].Mailbox()) })
}

func (m *mailboxTable) reserve(entries []Entry, n int) {
	m.t.resize(n, func(j int) uint64 { return foldHash(m.seed, entries[j].Mailbox()) })
}

// Index finds entries by mailbox without regard to case, as Read tells
// duplicates apart. It costs about 10 bytes per entry and holds the
// entries slice it was made from, which must not change while it is used.
type Index struct {
	entries []Entry
	m       *mailboxTable
}

// NewIndex indexes entries by mailbox. Of entries with the same mailbox
// (which Read never returns), Lookup finds the first.
func NewIndex(entries []Entry) *Index {
	x := &Index{entries: entries, m: newMailboxTable()}
	x.m.reserve(entries, len(entries))
	for i := range entries {
		if x.m.find(entries, entries[i].Mailbox()) < 0 {
			x.m.add(entries, i)
		}
	}
	return x
}

// Lookup returns the position in the indexed entries of the entry for
// mailbox, compared without regard to case, and whether there is one.
func (x *Index) Lookup(mailbox string) (int, bool) {
	i := x.m.find(x.entries, mailbox)
	return i, i >= 0
}

// Accounts groups entries by account ID (compared exactly, as billing
// wrote it), for counting accounts and the mailboxes of each. It costs 8
// bytes per entry.
type Accounts struct {
	of   []int32 // entry -> account number, in order of first appearance
	size []int32 // account number -> mailboxes
}

// GroupAccounts groups entries by AccountID.
func GroupAccounts(entries []Entry) *Accounts {
	a := &Accounts{of: make([]int32, len(entries))}
	seed := maphash.MakeSeed()
	first := []int32(nil) // account number -> its first entry
	hash := func(g int) uint64 { return maphash.String(seed, entries[first[g]].AccountID()) }
	var t table
	t.resize(len(entries)/2, hash)
	for i := range entries {
		id := entries[i].AccountID()
		h := maphash.String(seed, id)
		g := t.lookup(h, func(g int) bool { return entries[first[g]].AccountID() == id })
		if g < 0 {
			g = len(a.size)
			first = append(first, int32(i))
			a.size = append(a.size, 0)
			t.insert(h, g, hash)
		}
		a.of[i] = int32(g)
		a.size[g]++
	}
	return a
}

// Len is the number of distinct account IDs.
func (a *Accounts) Len() int { return len(a.size) }

// Multi is the number of accounts with more than one mailbox.
func (a *Accounts) Multi() int {
	n := 0
	for _, s := range a.size {
		if s >= 2 {
			n++
		}
	}
	return n
}

// Mailboxes is the number of entries that share entry i's account ID.
func (a *Accounts) Mailboxes(i int) int { return int(a.size[a.of[i]]) }
