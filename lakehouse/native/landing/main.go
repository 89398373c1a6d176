// Command asset-tag-landing lands one time window of a Kafka topic of BLE observations as one zstd Parquet
// file (schema lakehouse.schemas.OBSERVATIONS), written in one atomic PUT (or rename, for a local path).
//
// It is the native fast path of assets_dag.ingest.landing.land_hour: the same window (offsets for times
// widened by a slack, then records kept by their own timestamp), the same decoding rules and rejection
// reasons as assets_dag/ingest/records.py, the same de-duplication on (tag_id, gateway_id, ts) keeping the
// lowest (partition, offset), the same order. Input: one JSON request on stdin (see Request). Output: one
// JSON summary line on stdout; errors as one line on stderr (exit 2 for bad input, 1 otherwise).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime/pprof"
	"time"
)

// Summary is the one line printed on stdout.
type Summary struct {
	URI           string   `json:"uri"`
	Rows          int      `json:"rows"`
	TopicRecords  int      `json:"topic_records"`
	Rejected      int      `json:"rejected"`
	Duplicates    int      `json:"duplicates"`
	OutsideWindow int      `json:"outside_window"`
	Reasons       []string `json:"reasons"`
	Bytes         int      `json:"bytes"`
	Seconds       float64  `json:"seconds"`
}

func main() {
	// For benchmarking: a CPU profile of the run (go tool pprof bin/asset-tag-landing <file>).
	if path := os.Getenv("ASSET_TAG_LANDING_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	req, err := readRequest(os.Stdin)
	if err == nil {
		err = run(req)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err.Error())
		var bad *UsageError
		if errors.As(err, &bad) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// trace prints a step's duration on stderr when ASSET_TAG_LANDING_TRACE is set (for benchmarking).
func trace(step string, since time.Time) {
	if os.Getenv("ASSET_TAG_LANDING_TRACE") != "" {
		fmt.Fprintf(os.Stderr, "%-16s %6.3f s\n", step, time.Since(since).Seconds())
	}
}

func run(req *Request) error {
	started := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sink, err := openSink(req.Output)
	if err != nil {
		return err
	}
	decoded, err := readWindow(ctx, req)
	if err != nil {
		return err
	}
	trace("read window", started)
	step := time.Now()
	duplicates := decoded.deduplicate()
	trace("deduplicate", step)
	step = time.Now()
	data, err := encodeParquet(decoded)
	trace("encode parquet", step)
	step = time.Now()
	if err != nil {
		return err
	}
	if err := sink.put(ctx, data); err != nil {
		return err
	}
	trace("put", step)
	summary := Summary{
		URI:           req.Output.URI,
		Rows:          decoded.len(),
		TopicRecords:  decoded.topicRecords,
		Rejected:      decoded.rejected,
		Duplicates:    duplicates,
		OutsideWindow: decoded.outsideWindow,
		Reasons:       decoded.reasons(),
		Bytes:         len(data),
		Seconds:       time.Since(started).Seconds(),
	}
	return json.NewEncoder(os.Stdout).Encode(summary)
}
