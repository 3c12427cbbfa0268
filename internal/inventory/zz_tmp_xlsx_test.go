package inventory

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
)

func TestTmpXLSX(t *testing.T) {
	if os.Getenv("TMPRSS") == "" {
		t.Skip()
	}
	path := filepath.Join(t.TempDir(), "big.xlsx")
	f := excelize.NewFile()
	sw, _ := f.NewStreamWriter("Sheet1")
	ds, _ := f.NewStyle(&excelize.Style{NumFmt: 14})
	sw.SetRow("A1", []any{"Email", "Account", "Type", "Created", "Name"})
	for i := range 200_000 {
		cell, _ := excelize.CoordinatesToCellName(1, i+2)
		sw.SetRow(cell, []any{fmt.Sprintf("user%07d@example.net", i), fmt.Sprintf("%08d", i/3), "Residential", excelize.Cell{StyleID: ds, Value: 43468 + i%1000}, fmt.Sprintf("Customer %d", i)})
	}
	sw.Flush()
	f.SaveAs(path)
	f.Close()
	for _, withDate := range []bool{true} {
		_ = withDate
		start := time.Now()
		inv, err := Read(path, Options{})
		fmt.Println("xlsx 200k:", time.Since(start), len(inv.Entries), len(inv.Rejected), err, inv.Entries[5].Created)
	}
	b, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmHWM") {
			fmt.Println(l)
		}
	}
}
