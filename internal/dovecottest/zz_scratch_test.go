package dovecottest

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func TestZZTiming(t *testing.T) {
	cutoff := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	f := GenerateFixture(2000, 0.1, cutoff)
	for i := 0; i < 2; i++ {
		dir := t.TempDir()
		s := &Server{Dir: dir, mailDir: filepath.Join(dir, "mail"), writer: &maildirWriter{owner: mailOwner{65534, 65534, true}}}
		os.MkdirAll(filepath.Join(dir, "auth"), 0o755)
		os.MkdirAll(s.mailDir, 0o755)
		start := time.Now()
		if err := s.writeFixture(f); err != nil {
			t.Fatal(err)
		}
		t.Logf("GOMAXPROCS=%d write %v", runtime.GOMAXPROCS(0), time.Since(start))
		start = time.Now()
		s.removeMail()
		t.Logf("remove %v", time.Since(start))
	}
}
