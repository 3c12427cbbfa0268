package main

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The master password reaches neither the results, the workbook, the
// trace nor the terminal, and a mailbox's own password (--auth password)
// stays out too.
func TestSecretsStayOut(t *testing.T) {
	dir := t.TempDir()
	d := startDemo(t, dir, 40, 7, true)
	inc, inv, cutoff := d.inc, d.inv, d.inc.Cutoff
	secrets := []string{inc.MasterPassword}
	for _, m := range inc.Mailboxes {
		if m.Entry.Password() != "" {
			secrets = append(secrets, m.Entry.Password())
		}
	}
	for _, mode := range []string{"master", "authzid", "password"} {
		t.Run(mode, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			e := &env{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr,
				getenv: func(k string) string {
					if k == "IMPACT_MASTER_PASSWORD" && mode != "password" {
						return inc.MasterPassword
					}
					return ""
				}}
			args := []string{"scan", "--inventory", inv, "--server", d.addr, "--tls", "none",
				"--cutoff", cutoff.Format(time.RFC3339), "--auth", mode,
				"--results", filepath.Join(dir, mode+".jsonl"), "--report", filepath.Join(dir, mode+".xlsx"),
				"--trace-imap", filepath.Join(dir, mode+".trace")}
			if mode != "password" {
				args = append(args, "--master-user", inc.MasterUser)
			}
			code := runMain(context.Background(), e, args)
			if code != exitOK {
				t.Fatalf("exit %d\n%s", code, stderr.String())
			}
			files := map[string][]byte{"stdout": stdout.Bytes(), "stderr": stderr.Bytes()}
			for _, ext := range []string{".jsonl", ".xlsx", ".trace"} {
				b, err := os.ReadFile(filepath.Join(dir, mode+ext))
				if err != nil {
					t.Fatal(err)
				}
				files[ext] = b
			}
			// The workbook is a zip: search its uncompressed parts.
			zr, err := zip.NewReader(bytes.NewReader(files[".xlsx"]), int64(len(files[".xlsx"])))
			if err != nil {
				t.Fatal(err)
			}
			delete(files, ".xlsx")
			for _, f := range zr.File {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(rc)
				rc.Close()
				if err != nil {
					t.Fatal(err)
				}
				files["xlsx:"+f.Name] = b
			}
			if _, ok := files["xlsx:xl/worksheets/sheet1.xml"]; !ok {
				t.Errorf("workbook parts: no sheet1")
			}
			if !bytes.Contains(files[".trace"], []byte("LOGIN [redacted]")) && !bytes.Contains(files[".trace"], []byte("AUTHENTICATE PLAIN")) {
				t.Errorf("trace holds no login line:\n%.2000s", files[".trace"])
			}
			for name, b := range files {
				for _, s := range secrets {
					if bytes.Contains(b, []byte(s)) {
						t.Errorf("%s contains a password", name)
					}
				}
			}
		})
	}
}
