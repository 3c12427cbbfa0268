package main

import (
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/impact-ops/impact/internal/inventory"
)

// parseShard reads "K/N" (K from 0 to N-1, as Kubernetes'
// JOB_COMPLETION_INDEX counts); "" means the whole inventory (0/1).
func parseShard(s string) (k, n int, err error) {
	if s == "" {
		return 0, 1, nil
	}
	ks, ns, ok := strings.Cut(s, "/")
	k, err1 := strconv.Atoi(ks)
	n, err2 := strconv.Atoi(ns)
	if !ok || err1 != nil || err2 != nil || n < 1 || k < 0 || k >= n {
		return 0, 0, usageErr("--shard %q: want K/N with 0 <= K < N, e.g. --shard 0/4 ... --shard 3/4", s)
	}
	return k, n, nil
}

// inShard selects a stable share of the inventory: the same mailbox lands
// in the same shard on every machine and every run, whatever the
// inventory's order.
func inShard(entries []inventory.Entry, k, n int) []inventory.Entry {
	if n == 1 {
		return entries
	}
	var out []inventory.Entry
	for _, e := range entries {
		if shardOf(e.Mailbox(), n) == k {
			out = append(out, e)
		}
	}
	return out
}

// shardOf is the shard of n that mailbox belongs to: FNV-1a (64 bit) of
// the lowercased mailbox, modulo n.
func shardOf(mailbox string, n int) int {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := 0; i < len(mailbox); i++ {
		c := mailbox[i]
		if c >= utf8.RuneSelf {
			// Not ASCII: let strings.ToLower fold it (rare, allocates).
			f := fnv.New64a()
			f.Write([]byte(strings.ToLower(mailbox)))
			return int(f.Sum64() % uint64(n))
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		h = (h ^ uint64(c)) * prime
	}
	return int(h % uint64(n))
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return 0, usageErr("--log-level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

func shardLabel(k, n int) string {
	if n == 1 {
		return ""
	}
	return fmt.Sprintf("%d/%d", k, n)
}
