package main

import (
	"fmt"
	"hash/fnv"
	"log/slog"
	"strconv"
	"strings"

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
		h := fnv.New64a()
		h.Write([]byte(strings.ToLower(e.Mailbox)))
		if h.Sum64()%uint64(n) == uint64(k) {
			out = append(out, e)
		}
	}
	return out
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
