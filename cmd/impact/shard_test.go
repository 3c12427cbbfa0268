package main

import (
	"hash/fnv"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"

	"github.com/impact-ops/impact/internal/inventory"
	"github.com/impact-ops/impact/internal/results"
)

func TestParseShard(t *testing.T) {
	for _, tc := range []struct {
		in   string
		k, n int
		ok   bool
	}{
		{"", 0, 1, true}, {"0/4", 0, 4, true}, {"3/4", 3, 4, true},
		{"4/4", 0, 0, false}, {"-1/4", 0, 0, false}, {"1/0", 0, 0, false}, {"1", 0, 0, false}, {"a/b", 0, 0, false},
	} {
		k, n, err := parseShard(tc.in)
		if (err == nil) != tc.ok || (tc.ok && (k != tc.k || n != tc.n)) {
			t.Errorf("parseShard(%q) = %d, %d, %v", tc.in, k, n, err)
		}
	}
	// Stable and a partition, whatever the order of the inventory.
	var es []inventory.Entry
	for _, m := range []string{"a@x", "B@x", "c@y", "d@z", "e@z", "f@x", "g@x"} {
		es = append(es, inventory.NewEntry(inventory.Fields{Mailbox: m}))
	}
	seen := map[string]int{}
	for k := range 3 {
		for _, e := range inShard(es, k, 3) {
			seen[e.Mailbox()]++
		}
	}
	if len(seen) != len(es) {
		t.Errorf("shards cover %d of %d", len(seen), len(es))
	}
	for m, n := range seen {
		if n != 1 {
			t.Errorf("%s in %d shards", m, n)
		}
	}
	rev := append([]inventory.Entry(nil), es...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if a, b := inShard(es, 1, 3), inShard(rev, 1, 3); len(a) != len(b) {
		t.Errorf("shard depends on inventory order: %d vs %d", len(a), len(b))
	}
}

// shardOf must stay FNV-1a of the lowercased mailbox: shards of one scan
// are run by different builds on different machines.
func TestShardOfIsFNVOfLowercase(t *testing.T) {
	for _, m := range []string{"a@x", "B@x", "Ann.Lee@Example.NET", "h\u00e9l\u00e8ne@\u00c9COLE.example", "\u0130stanbul@x", ""} {
		h := fnv.New64a()
		h.Write([]byte(strings.ToLower(m)))
		for _, n := range []int{1, 2, 3, 7, 64} {
			if got, want := shardOf(m, n), int(h.Sum64()%uint64(n)); got != want {
				t.Errorf("shardOf(%q, %d) = %d, want %d", m, n, got, want)
			}
		}
	}
}

// Three shards scanned apart and merged by impact report give the same
// verdicts and the same workbook as one scan of everything.
func TestShardsMergeToSingleScan(t *testing.T) {
	dir := t.TempDir()
	d := startDemo(t, dir, 150, 11, false)
	inc := d.inc
	scanArgs := func(res string, extra ...string) []string {
		return d.scanArgs(res, append([]string{"--report", strings.TrimSuffix(res, ".jsonl") + ".xlsx"}, extra...)...)
	}
	single := filepath.Join(dir, "single.jsonl")
	if code, out := runImpact(t, inc.MasterPassword, scanArgs(single)...); code != exitOK {
		t.Fatalf("single scan: exit %d\n%s", code, out)
	}
	mergeArgs := []string{"report", "--report", filepath.Join(dir, "merged.xlsx")}
	total := 0
	var shards []string
	for k := range 3 {
		res := filepath.Join(dir, "shard-"+string(rune('0'+k))+".jsonl")
		code, out := runImpact(t, inc.MasterPassword, scanArgs(res, "--shard", string(rune('0'+k))+"/3")...)
		if code != exitOK || !strings.Contains(out, "Shard "+string(rune('0'+k))+"/3: ") {
			t.Fatalf("shard %d: exit %d\n%s", k, code, out)
		}
		set, err := results.Load(res)
		if err != nil {
			t.Fatal(err)
		}
		total += len(set.Mailboxes)
		mergeArgs = append(mergeArgs, "--results", res)
		shards = append(shards, res)
	}
	if total != 150 {
		t.Errorf("shards probed %d mailboxes in all, want 150", total)
	}
	// A shard's results are not resumed as another shard's.
	if code, out := runImpact(t, inc.MasterPassword, scanArgs(filepath.Join(dir, "shard-0.jsonl"), "--shard", "1/3")...); code != exitUsage || !strings.Contains(out, `holds a scan of shard "0/3"`) {
		t.Errorf("mixing shards: exit %d\n%s", code, out)
	}
	if code, out := runImpact(t, "", mergeArgs...); code != exitOK || strings.Contains(out, "INCOMPLETE") {
		t.Fatalf("merge: exit %d\n%s", code, out)
	}

	a, err := results.Load(single)
	if err != nil {
		t.Fatal(err)
	}
	verdicts := func(s *results.Set) map[string]string {
		m := map[string]string{}
		for k, r := range s.Mailboxes {
			m[k] = string(r.Impact) + " " + r.Evidence
		}
		return m
	}
	merged, err := results.Load(shards...)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(verdicts(a), verdicts(merged)) {
		t.Errorf("merged verdicts differ from the single scan's")
	}

	fa, err := excelize.OpenFile(filepath.Join(dir, "single.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer fa.Close()
	fb, err := excelize.OpenFile(filepath.Join(dir, "merged.xlsx"))
	if err != nil {
		t.Fatal(err)
	}
	defer fb.Close()
	for _, sheet := range []string{"Priority", "Business", "Residential", "Multi-mailbox", "Lookup", "Queue 1", "Mailboxes"} {
		ra, err := fa.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		rb, err := fb.GetRows(sheet)
		if err != nil {
			t.Fatal(err)
		}
		if len(ra) < 5 {
			t.Errorf("%s: only %d rows", sheet, len(ra))
		}
		if !reflect.DeepEqual(withoutProbeTimes(ra), withoutProbeTimes(rb)) {
			t.Errorf("sheet %s differs between the single scan and the merged shards", sheet)
		}
	}
}

func TestFailuresLast(t *testing.T) {
	var todo []inventory.Entry
	for _, m := range []string{"a", "b", "c", "d", "e"} {
		todo = append(todo, inventory.NewEntry(inventory.Fields{Mailbox: m}))
	}
	got, n := failuresLast(todo, map[string]bool{"b": true, "d": true, "c": false})
	var order []string
	for _, e := range got {
		order = append(order, e.Mailbox())
	}
	if n != 2 || strings.Join(order, "") != "acebd" {
		t.Errorf("order %v, %d moved; want a c e b d, 2", order, n)
	}
}
