package main

import (
	"cmp"
	"slices"
	"sync"
)

// sortKey orders rows by the natural key (tag_id, gateway_id, ts) — which is also the dataset's sort order —
// then by where they came from, so the first row of each key is its lowest (partition, offset) copy.
type sortKey struct {
	ts        int64
	offset    int64
	tag       uint32
	gateway   uint32
	partition int32
	row       uint32
}

// byTime orders the rows of one (tag, gateway): by ts, then partition and offset.
func byTime(a, b sortKey) int {
	if c := cmp.Compare(a.ts, b.ts); c != 0 {
		return c
	}
	if c := cmp.Compare(a.partition, b.partition); c != 0 {
		return c
	}
	return cmp.Compare(a.offset, b.offset)
}

// deduplicate sets the order of the rows to write: sorted, without repeated natural keys (at-least-once
// producers repeat records), keeping the first copy, as records.py does. It returns how many it dropped.
//
// Tags and gateways are ranks of the sorted names, so counting sort groups the rows by (tag, gateway) in
// linear time; each group is then sorted by time. A tag's records come from one partition (the topic is
// keyed by tag) in offset order, so those groups are nearly sorted already.
func (w *decodedWindow) deduplicate() int {
	var keys []sortKey
	if groups := len(w.tags) * len(w.gateways); groups <= maxGroupBuckets {
		keys = w.groupedKeys(groups)
	} else {
		keys = w.groupedKeysTwoPasses()
	}
	sortGroups(keys)
	w.order = make([]uint32, 0, len(keys))
	for i, k := range keys {
		if i > 0 && k.tag == keys[i-1].tag && k.gateway == keys[i-1].gateway && k.ts == keys[i-1].ts {
			continue
		}
		w.order = append(w.order, k.row)
	}
	return len(keys) - len(w.order)
}

// maxGroupBuckets bounds the (tag, gateway) pairs sorted in one counting pass (a count per pair and part:
// 16 MB at most per part); sites with more pairs take two passes, by gateway then by tag.
const maxGroupBuckets = 1 << 22

// groupedKeys is every row's sort key, grouped by (tag, gateway) in one counting-sort pass with the
// workers' parts counted and scattered on their own goroutines: each part owns a slice of every group,
// after the parts before it, so rows keep their order (the parts' rows numbered one after the other).
func (w *decodedWindow) groupedKeys(groups int) []sortKey {
	gateways := uint32(len(w.gateways))
	counts := make([][]uint32, len(w.parts))
	var wg sync.WaitGroup
	for p, part := range w.parts {
		wg.Go(func() {
			count := make([]uint32, groups)
			for i := range part {
				count[part[i].tag*gateways+part[i].gateway]++
			}
			counts[p] = count
		})
	}
	wg.Wait()
	next := uint32(0) // counts become each part's next position in each group
	for g := range groups {
		for _, count := range counts {
			n := count[g]
			count[g] = next
			next += n
		}
	}
	keys := make([]sortKey, next)
	next = 0
	for p, part := range w.parts {
		base := next // the part's first row number
		next += uint32(len(part))
		wg.Go(func() {
			position := counts[p]
			for i := range part {
				r := &part[i]
				g := r.tag*gateways + r.gateway
				keys[position[g]] = sortKey{r.ts, r.offset, r.tag, r.gateway, r.partition, base + uint32(i)}
				position[g]++
			}
		})
	}
	wg.Wait()
	return keys
}

// groupedKeysTwoPasses groups the rows by (tag, gateway) with two stable counting sorts, gateway then tag.
func (w *decodedWindow) groupedKeysTwoPasses() []sortKey {
	keys := make([]sortKey, 0, w.rows())
	for _, part := range w.parts {
		for i := range part {
			r := &part[i]
			keys = append(keys, sortKey{r.ts, r.offset, r.tag, r.gateway, r.partition, uint32(len(keys))})
		}
	}
	spare := make([]sortKey, len(keys))
	countingSort(keys, spare, len(w.gateways), func(k *sortKey) uint32 { return k.gateway })
	countingSort(spare, keys, len(w.tags), func(k *sortKey) uint32 { return k.tag })
	return keys
}

// countingSort copies src into dst ordered by key (< buckets), keeping the order of equal keys.
func countingSort(src, dst []sortKey, buckets int, key func(*sortKey) uint32) {
	starts := make([]int, buckets+1)
	for i := range src {
		starts[key(&src[i])+1]++
	}
	for b := 1; b <= buckets; b++ {
		starts[b] += starts[b-1]
	}
	for i := range src {
		b := key(&src[i])
		dst[starts[b]] = src[i]
		starts[b]++
	}
}

// sortGroups sorts each run of equal (tag, gateway) by time, the two halves of the runs on two goroutines.
func sortGroups(keys []sortKey) {
	half := len(keys) / 2
	for half > 0 && half < len(keys) && sameGroup(keys[half-1], keys[half]) {
		half++
	}
	var wg sync.WaitGroup
	wg.Go(func() { sortRuns(keys[:half]) })
	sortRuns(keys[half:])
	wg.Wait()
}

func sameGroup(a, b sortKey) bool { return a.tag == b.tag && a.gateway == b.gateway }

func sortRuns(keys []sortKey) {
	for start := 0; start < len(keys); {
		end := start + 1
		for end < len(keys) && sameGroup(keys[start], keys[end]) {
			end++
		}
		if end-start > 1 {
			slices.SortFunc(keys[start:end], byTime)
		}
		start = end
	}
}
