package main

import (
	"os"
	"path/filepath"
	"strings"
)

// namedPath is a file a flag names.
type namedPath struct{ flag, path string }

// checkPaths refuses a run that would write over one of its own inputs or
// write two outputs to one file (a results file replaced by its workbook,
// a trace appended to the inventory), before anything is read or written.
// csvDir, when set, must not be where an input or output lives: the CSV
// set could replace it by name.
func checkPaths(inputs, outputs []namedPath, csvDir string) error {
	same := func(a, b string) bool {
		pa, ea := filepath.Abs(a)
		pb, eb := filepath.Abs(b)
		if ea == nil && eb == nil && pa == pb {
			return true
		}
		sa, ea := os.Stat(a)
		sb, eb := os.Stat(b)
		return ea == nil && eb == nil && os.SameFile(sa, sb)
	}
	for i, out := range outputs {
		if out.path == "" {
			continue
		}
		if st, err := os.Stat(out.path); err == nil && st.IsDir() {
			return usageErr("%s %s is a directory: name a file", out.flag, out.path)
		}
		for _, in := range inputs {
			if in.path != "" && same(out.path, in.path) {
				return usageErr("%s %s is also %s: the run would write over its own input; name another file", out.flag, out.path, in.flag)
			}
		}
		for _, other := range outputs[i+1:] {
			if other.path != "" && same(out.path, other.path) {
				return usageErr("%s and %s both name %s: each needs a file of its own", out.flag, other.flag, out.path)
			}
		}
	}
	if csvDir != "" {
		for _, p := range append(append([]namedPath{}, inputs...), outputs...) {
			if p.path != "" && same(filepath.Dir(p.path), csvDir) && strings.EqualFold(filepath.Ext(p.path), ".csv") {
				return usageErr("--csv %s also holds %s (%s), which a CSV of the same name could replace: give the CSV files a directory of their own", csvDir, p.path, p.flag)
			}
		}
	}
	return nil
}
