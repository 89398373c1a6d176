package main

import (
	"cmp"
	"slices"
	"sync"
)

// sortKey orders rows by the natural key (tag_id, gateway_id, ts) — which is also the dataset's sort order —
// then by where they came from, so the first row of each key is its lowest (partition, offset) copy.
type sortKey struct {
	names     uint64 // tag rank << 32 | gateway rank
	ts        int64
	offset    int64
	partition int32
	row       uint32
}

func compareKeys(a, b sortKey) int {
	if c := cmp.Compare(a.names, b.names); c != 0 {
		return c
	}
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	if c := cmp.Compare(a.partition, b.partition); c != 0 {
		return c
	}
	return cmp.Compare(a.offset, b.offset)
}

// deduplicate sets the order of the rows to write: sorted, without repeated natural keys (at-least-once producers repeat
// records), keeping the first copy, as records.py does. It returns how many rows it dropped.
func (w *decodedWindow) deduplicate() int {
	keys := make([]sortKey, len(w.rows))
	for i := range w.rows {
		r := &w.rows[i]
		keys[i] = sortKey{uint64(r.tag)<<32 | uint64(r.gateway), r.ts, r.offset, r.partition, uint32(i)}
	}
	parallelSort(keys)
	w.order = make([]uint32, 0, len(keys))
	for i, k := range keys {
		if i > 0 && k.names == keys[i-1].names && k.ts == keys[i-1].ts {
			continue
		}
		w.order = append(w.order, k.row)
	}
	return len(w.rows) - len(w.order)
}

// parallelSort sorts two halves on two goroutines and merges them: sorting is the one step of the landing
// that is not already spread over the cores. The result does not depend on the split (keys are distinct).
func parallelSort(keys []sortKey) {
	if len(keys) < 1<<16 {
		slices.SortFunc(keys, compareKeys)
		return
	}
	half := len(keys) / 2
	left, right := keys[:half], keys[half:]
	var wg sync.WaitGroup
	wg.Go(func() { slices.SortFunc(left, compareKeys) })
	slices.SortFunc(right, compareKeys)
	wg.Wait()
	merged := make([]sortKey, 0, len(keys))
	i, j := 0, 0
	for i < len(left) && j < len(right) {
		if compareKeys(left[i], right[j]) <= 0 {
			merged = append(merged, left[i])
			i++
		} else {
			merged = append(merged, right[j])
			j++
		}
	}
	merged = append(append(merged, left[i:]...), right[j:]...)
	copy(keys, merged)
}
