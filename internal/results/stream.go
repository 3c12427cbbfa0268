package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// Stream reads results files in order, one line at a time, and hands each
// record to its function; the Mailbox passed is reused for the next line,
// so keep what you need, not the pointer. A torn last line (no newline, not
// valid JSON: a write cut short by a crash) is skipped with a warning; any
// other malformed line is an error naming file:line. Memory stays flat
// whatever the file's size.
func Stream(paths []string, scan func(*Scan) error, mailbox func(*Mailbox) error, end func(*End), warn func(string)) error {
	var m Mailbox
	for _, p := range paths {
		if err := streamFile(p, &m, scan, mailbox, end, warn); err != nil {
			return err
		}
	}
	return nil
}

// mailboxPrefix starts every mailbox line Writer writes (Mailbox's
// first field is its kind): such lines skip the kind probe.
var mailboxPrefix = []byte(`{"kind":"mailbox",`)

func streamFile(path string, m *Mailbox, scan func(*Scan) error, mailbox func(*Mailbox) error, end func(*End), warn func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read results: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(b) == 0 && errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("read results %s:%d: %w", path, line, err)
		}
		last := errors.Is(err, io.EOF) // no newline: possibly torn
		kind, perr := decodeLine(bytes.TrimSpace(b), m)
		if perr != nil {
			if last {
				warn(fmt.Sprintf("%s:%d: ignored a torn last line (%d bytes, no newline): the scan that wrote it was cut off; its mailbox will be probed again", path, line, len(b)))
				return nil
			}
			return fmt.Errorf("results %s:%d: %w", path, line, perr)
		}
		switch kind {
		case KindScan:
			var sc Scan
			if err := json.Unmarshal(b, &sc); err != nil {
				return fmt.Errorf("results %s:%d: scan record: %w", path, line, err)
			}
			if err := scan(&sc); err != nil {
				return fmt.Errorf("results %s:%d: %w", path, line, err)
			}
		case KindEnd:
			var en End
			if err := json.Unmarshal(b, &en); err != nil {
				return fmt.Errorf("results %s:%d: end record: %w", path, line, err)
			}
			end(&en)
		case KindMailbox:
			if err := mailbox(m); err != nil {
				return fmt.Errorf("results %s:%d: %w", path, line, err)
			}
		}
		if last {
			return nil
		}
	}
}

// decodeLine finds a line's kind and, for a mailbox line, decodes it into
// m. An empty line has kind "".
func decodeLine(b []byte, m *Mailbox) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	kind := KindMailbox
	if !bytes.HasPrefix(b, mailboxPrefix) {
		var head struct {
			Kind string `json:"kind"`
		}
		if err := json.Unmarshal(b, &head); err != nil {
			return "", fmt.Errorf("not a JSON record: %w", err)
		}
		kind = head.Kind
	}
	switch kind {
	case KindScan, KindEnd:
		if !json.Valid(b) {
			return "", errors.New("not a JSON record")
		}
		return kind, nil
	case KindMailbox:
		*m = Mailbox{}
		if err := json.Unmarshal(b, m); err != nil {
			return "", fmt.Errorf("mailbox record: %w", err)
		}
		if m.Mailbox == "" {
			return "", errors.New("mailbox record without a mailbox")
		}
		return kind, nil
	}
	return "", fmt.Errorf("unknown record kind %q", kind)
}
