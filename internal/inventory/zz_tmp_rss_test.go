package inventory

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestTmpRSS(t *testing.T) {
	if os.Getenv("TMPRSS") == "" {
		t.Skip()
	}
	path := filepath.Join(t.TempDir(), "big.csv")
	f, _ := os.Create(path)
	w := bufio.NewWriter(f)
	fmt.Fprintln(w, "Email;Customer No;Segment;Tariff;Created;Access;Name;Phone;Notes")
	for i := range 1_000_000 {
		fmt.Fprintf(w, "user%07d@Example.NET;%08d;Residential;Pro 100;2019-%02d-%02d;imap;\"Customer %d\";+41 44 %07d;ignored note\n", i, i/3, i%12+1, i%28+1, i, i)
	}
	w.Flush()
	f.Close()
	hwm := func() string {
		b, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "VmHWM") || strings.HasPrefix(l, "VmRSS") {
				fmt.Print(l, "  ")
			}
		}
		return ""
	}
	hwm()
	fmt.Println()
	start := time.Now()
	inv, err := Read(path, Options{})
	fmt.Println(time.Since(start), len(inv.Entries), err)
	hwm()
	fmt.Println()
}
