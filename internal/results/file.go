package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// Writer appends records to a results file. Each record is one write(2) of
// one complete line, so a crash of the process never leaves a partial
// record; a power cut can, and Open and Load detect and drop such a torn
// last line. Records are synced to disk at most SyncEvery apart and on
// Close. Writer is safe for concurrent use.
type Writer struct {
	mu       sync.Mutex
	f        *os.File
	lastSync time.Time
	// SyncEvery bounds how much a power cut can lose; default 1 s.
	SyncEvery time.Duration
}

// Create opens path for appending, creating it with mode 0600 (records
// hold customer contacts). With fresh, an existing file is truncated.
// A torn last line (no newline at the end) is cut off; the number of bytes
// cut is returned so the caller can warn.
func Create(path string, fresh bool) (w *Writer, torn int64, err error) {
	flags := os.O_RDWR | os.O_CREATE
	if fresh {
		flags |= os.O_TRUNC
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, 0, fmt.Errorf("open results %s: %w", path, err)
	}
	torn, err = cutTornTail(f)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open results %s: %w", path, err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("open results %s: %w", path, err)
	}
	return &Writer{f: f, SyncEvery: time.Second, lastSync: time.Now()}, torn, nil
}

// cutTornTail truncates f after its last newline.
func cutTornTail(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return 0, err
	}
	size := st.Size()
	const chunk = 64 << 10
	buf := make([]byte, chunk)
	end := size
	for end > 0 {
		start := max(end-chunk, 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			keep := start + int64(i) + 1
			if keep == size {
				return 0, nil
			}
			return size - keep, f.Truncate(keep)
		}
		end = start
	}
	return size, f.Truncate(0)
}

// Write appends one record (Scan, Mailbox or End) as a line.
func (w *Writer) Write(rec any) error {
	line, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	line = append(line, '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, err := w.f.Write(line); err != nil {
		return fmt.Errorf("write results %s: %w", w.f.Name(), err)
	}
	if time.Since(w.lastSync) >= w.SyncEvery {
		w.lastSync = time.Now()
		if err := w.f.Sync(); err != nil {
			return fmt.Errorf("sync results %s: %w", w.f.Name(), err)
		}
	}
	return nil
}

// Close syncs and closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return fmt.Errorf("sync results %s: %w", w.f.Name(), err)
	}
	return w.f.Close()
}

// Set is what one or more results files hold: every scan header and
// trailer, and the latest record of each mailbox.
type Set struct {
	Scans []Scan
	Ends  []End
	// Mailboxes maps mailbox to its latest record.
	Mailboxes map[string]*Mailbox
	// Warnings lists what was skipped, e.g. a torn last line.
	Warnings []string
}

// Load reads results files in order into memory; a later record for the
// same mailbox replaces an earlier one. A torn last line is skipped with a
// warning; any other malformed line is an error naming file:line. For large
// files prefer Stream.
func Load(paths ...string) (*Set, error) {
	s := &Set{Mailboxes: map[string]*Mailbox{}}
	err := Stream(paths,
		func(sc *Scan) error { s.Scans = append(s.Scans, *sc); return nil },
		func(m *Mailbox) error { c := *m; s.Mailboxes[m.Mailbox] = &c; return nil },
		func(e *End) { s.Ends = append(s.Ends, *e) },
		func(w string) { s.Warnings = append(s.Warnings, w) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Final reports whether a record needs no rescan: every verdict but
// probe_error is, except an ok whose probe ended in an error (old mail was
// found, but the counts are incomplete).
func (m *Mailbox) Final() bool {
	switch m.Impact {
	case ImpactProbeError, "":
		return false
	case ImpactLoginFailed:
		return true
	default:
		return m.Error == ""
	}
}
