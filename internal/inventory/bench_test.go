package inventory

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// BenchmarkReadCSV reads a generated inventory of 1,000,000 rows. Besides
// time and allocations it reports the heap still in use with the inventory
// alive (MB-live), to compare with the size of the entries themselves.
func BenchmarkReadCSV(b *testing.B) {
	const rows = 1_000_000
	path := filepath.Join(b.TempDir(), "big.csv")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "Email;Customer No;Segment;Tariff;Created;Access;Name;Phone;Notes")
	for i := range rows {
		typ := "Residential"
		if i%7 == 0 {
			typ = "Business"
		}
		fmt.Fprintf(w, "user%07d@Example.NET;%08d;%s;Pro 100;2019-%02d-%02d;imap;\"Customer %d\";+41 44 %07d;ignored note\n",
			i, i/3, typ, i%12+1, i%28+1, i, i)
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	f.Close()
	st, _ := os.Stat(path)
	b.SetBytes(st.Size())

	b.ReportAllocs()
	var inv *Inventory
	for b.Loop() {
		inv, err = Read(path, Options{})
		if err != nil {
			b.Fatal(err)
		}
	}
	if len(inv.Entries) != rows || len(inv.Rejected) != 0 || len(inv.Duplicates) != 0 {
		b.Fatalf("%d entries, %d rejected, %d duplicates", len(inv.Entries), len(inv.Rejected), len(inv.Duplicates))
	}
	if e := inv.Entries[rows-1]; e.Mailbox() != "user0999999@example.net" || e.AccountID() != "00333333" || e.Source() != "big.csv:1000001" {
		b.Fatalf("last entry %+v", e)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/1e6, "MB-live")
	runtime.KeepAlive(inv)
}
