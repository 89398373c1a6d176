package main

import (
	"fmt"
	"sort"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"
)

const keptReasons = 5 // like records.py: the first few reasons, for the run's metadata

type rejection struct {
	partition int32
	offset    int64
	reason    string
}

// decodedChunk is what one decoding worker produced; its tag/gateway ids are local to its interner.
type decodedChunk struct {
	rows          []observation
	names         *interner
	topicRecords  int
	outsideWindow int
	rejected      int
	rejections    []rejection // the lowest few (partition, offset) of this worker
}

func newDecodedChunk(capacity int) *decodedChunk {
	return &decodedChunk{names: newInterner(), rows: make([]observation, 0, capacity)}
}

func (c *decodedChunk) add(p *fastjson.Parser, batch fetchedBatch, startMs, endMs int64) {
	for _, r := range batch.records {
		if r.Offset >= batch.stop {
			break // offsets grow within a partition batch
		}
		ms := r.Timestamp.UnixMilli()
		if ms < startMs || ms >= endMs {
			c.outsideWindow++
			continue
		}
		c.topicRecords++
		c.rows = append(c.rows, observation{})
		o := &c.rows[len(c.rows)-1]
		if err := decodeObservation(p, r.Value, c.names, o); err != nil {
			c.rows = c.rows[:len(c.rows)-1]
			c.reject(r, err.Error())
			continue
		}
		o.partition, o.offset, o.kafkaTs = r.Partition, r.Offset, ms*1000
	}
}

func (c *decodedChunk) reject(r *kgo.Record, reason string) {
	c.rejected++
	c.rejections = append(c.rejections, rejection{r.Partition, r.Offset, reason})
	if len(c.rejections) > 4*keptReasons { // keep only the lowest few, independent of arrival order
		sortRejections(c.rejections)
		c.rejections = c.rejections[:keptReasons]
	}
}

func sortRejections(rs []rejection) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].partition != rs[j].partition {
			return rs[i].partition < rs[j].partition
		}
		return rs[i].offset < rs[j].offset
	})
}

// decodedWindow is the whole window: rows with tag/gateway as ranks into the sorted distinct names.
type decodedWindow struct {
	parts         [][]observation // the workers' rows, numbered as if concatenated (see row)
	order         []uint32        // numbers of the rows to write, in order (set by deduplicate)
	tags          []string        // sorted; observation.tag indexes it
	gateways      []string        // sorted; observation.gateway indexes it
	topicRecords  int
	outsideWindow int
	rejected      int
	rejections    []rejection
}

func newDecodedWindow() *decodedWindow { return &decodedWindow{} }

func (w *decodedWindow) len() int { return len(w.order) }

// rows counts the decoded rows, duplicates included.
func (w *decodedWindow) rows() int {
	n := 0
	for _, part := range w.parts {
		n += len(part)
	}
	return n
}

// row is row number i of the parts taken one after the other (there is one part per worker: a few).
func (w *decodedWindow) row(i uint32) *observation {
	for _, part := range w.parts {
		if int(i) < len(part) {
			return &part[i]
		}
		i -= uint32(len(part))
	}
	panic("row number out of range")
}

func (w *decodedWindow) reasons() []string {
	out := make([]string, 0, len(w.rejections))
	for _, r := range w.rejections {
		out = append(out, fmt.Sprintf("partition %d offset %d: %s", r.partition, r.offset, r.reason))
	}
	return out
}

// merge takes the workers' chunks as the window's parts and replaces each worker-local name id by the name's rank among all
// distinct names, so sorting by rank orders rows exactly as sorting by the (UTF-8 byte) strings would.
func (w *decodedWindow) merge(chunks []*decodedChunk) {
	tagNames, gatewayNames := map[string]struct{}{}, map[string]struct{}{}
	for _, c := range chunks {
		w.topicRecords += c.topicRecords
		w.outsideWindow += c.outsideWindow
		w.rejected += c.rejected
		w.rejections = append(w.rejections, c.rejections...)
	}
	sortRejections(w.rejections)
	if len(w.rejections) > keptReasons {
		w.rejections = w.rejections[:keptReasons]
	}
	// A worker's interner holds tags and gateways together; find which ids are used as which.
	for _, c := range chunks {
		isTag := make([]bool, len(c.names.strings))
		isGateway := make([]bool, len(c.names.strings))
		for i := range c.rows {
			isTag[c.rows[i].tag] = true
			isGateway[c.rows[i].gateway] = true
		}
		for id, name := range c.names.strings {
			if isTag[id] {
				tagNames[name] = struct{}{}
			}
			if isGateway[id] {
				gatewayNames[name] = struct{}{}
			}
		}
	}
	w.tags, w.gateways = sortedKeys(tagNames), sortedKeys(gatewayNames)
	tagRank, gatewayRank := rankOf(w.tags), rankOf(w.gateways)
	for _, c := range chunks {
		tagOf := make([]uint32, len(c.names.strings))
		gatewayOf := make([]uint32, len(c.names.strings))
		for id, name := range c.names.strings {
			tagOf[id], gatewayOf[id] = tagRank[name], gatewayRank[name]
		}
		for i := range c.rows {
			c.rows[i].tag, c.rows[i].gateway = tagOf[c.rows[i].tag], gatewayOf[c.rows[i].gateway]
		}
		w.parts = append(w.parts, c.rows) // in place: no copy of a few hundred MB
	}
}

func sortedKeys(set map[string]struct{}) []string {
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys) // Go compares strings bytewise: the order Arrow's sort gives UTF-8 strings
	return keys
}

func rankOf(sorted []string) map[string]uint32 {
	ranks := make(map[string]uint32, len(sorted))
	for i, s := range sorted {
		ranks[s] = uint32(i)
	}
	return ranks
}
