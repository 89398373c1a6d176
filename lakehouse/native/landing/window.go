package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/valyala/fastjson"
)

const fetchBytes = 4 << 20

// offsetRange is [first, stop) of one partition: the offsets that can hold records of the widened window.
type offsetRange struct{ first, stop int64 }

// readWindow consumes every partition of the topic from the offset of (start - slack) to the offset of
// (end + slack), keeps the records whose own timestamp is in [start, end) and decodes them on all cores
// while the next fetches arrive — the same window as assets_dag/ingest/topic_window.py.
func readWindow(ctx context.Context, req *Request) (*decodedWindow, error) {
	timeout := time.Duration(req.TimeoutS * float64(time.Second))
	started := time.Now()
	admin, err := kgo.NewClient(kgo.SeedBrokers(req.Brokers...), kgo.DialTimeout(timeout))
	if err != nil {
		return nil, usage("brokers: %v", err)
	}
	ranges, err := offsetRanges(ctx, kadm.NewClient(admin), req, timeout)
	admin.Close()
	if err != nil {
		return nil, err
	}
	trace("list offsets", started)
	window := newDecodedWindow()
	if len(ranges) == 0 {
		return window, nil
	}
	starts := make(map[int32]kgo.Offset, len(ranges))
	for p, r := range ranges {
		starts[p] = kgo.NewOffset().At(r.first)
	}
	client, err := kgo.NewClient(
		kgo.SeedBrokers(req.Brokers...),
		kgo.DialTimeout(timeout),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{req.Topic: starts}),
		// Modest fetches: the decoders keep up with them, so only a few MB of records wait in memory
		// (64 MB fetches let the consumer run ahead and hold most of an hour, 1.8 GB resident at 3M).
		kgo.FetchMaxBytes(fetchBytes),
		kgo.FetchMaxPartitionBytes(fetchBytes/2),
		kgo.FetchMaxWait(100*time.Millisecond),
	)
	if err != nil {
		return nil, usage("brokers: %v", err)
	}
	defer client.Close()

	workers := runtime.GOMAXPROCS(0)
	batches := make(chan fetchedBatch, 2*workers)
	results := make([]*decodedChunk, workers)
	var records int64
	for _, r := range ranges {
		records += r.stop - r.first
	}
	var wg sync.WaitGroup
	for w := range workers {
		results[w] = newDecodedChunk(int(records)/workers + int(records)/(4*workers))
		wg.Go(func() {
			chunk, parser := results[w], &fastjson.Parser{}
			for batch := range batches {
				chunk.add(parser, batch, req.StartMs, req.EndMs)
			}
		})
	}
	err = pollUntilEnd(ctx, client, req.Topic, ranges, timeout, batches)
	close(batches)
	wg.Wait()
	if err != nil {
		return nil, err
	}
	window.merge(results)
	return window, nil
}

func offsetRanges(ctx context.Context, admin *kadm.Client, req *Request, timeout time.Duration) (map[int32]offsetRange, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	topics, err := admin.ListTopics(ctx, req.Topic)
	if err != nil {
		return nil, fmt.Errorf("topic %s: cannot reach the brokers (%v)", req.Topic, err)
	}
	described, ok := topics[req.Topic]
	if !ok || described.Err != nil || len(described.Partitions) == 0 {
		reason := "not listed"
		if ok && described.Err != nil {
			reason = described.Err.Error()
		}
		return nil, usage("topic %s: does not exist (%s)", req.Topic, reason)
	}
	// ListOffsetsAfterMilli answers the end offset where no record is at or after the time, as the Python
	// reader does with the watermark.
	lows, err := admin.ListOffsetsAfterMilli(ctx, req.StartMs-req.SlackMs, req.Topic)
	if err == nil {
		err = lows.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("topic %s: cannot list offsets for times (%v)", req.Topic, err)
	}
	highs, err := admin.ListOffsetsAfterMilli(ctx, req.EndMs+req.SlackMs, req.Topic)
	if err == nil {
		err = highs.Error()
	}
	if err != nil {
		return nil, fmt.Errorf("topic %s: cannot list offsets for times (%v)", req.Topic, err)
	}
	ranges := make(map[int32]offsetRange)
	for p := range described.Partitions {
		low, ok1 := lows.Lookup(req.Topic, p)
		high, ok2 := highs.Lookup(req.Topic, p)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("topic %s: no offsets listed for partition %d", req.Topic, p)
		}
		if high.Offset > low.Offset {
			ranges[p] = offsetRange{low.Offset, high.Offset}
		}
	}
	return ranges, nil
}

type fetchedBatch struct {
	stop    int64 // records at or past this offset belong to later windows
	records []*kgo.Record
}

// pollUntilEnd hands every fetched partition batch to the decoders until each partition reached its stop.
func pollUntilEnd(
	ctx context.Context, client *kgo.Client, topic string, ranges map[int32]offsetRange, timeout time.Duration,
	batches chan<- fetchedBatch,
) error {
	pending := make(map[int32]bool, len(ranges))
	for p := range ranges {
		pending[p] = true
	}
	idleSince := time.Now()
	for len(pending) > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, time.Second)
		fetches := client.PollFetches(pollCtx)
		cancel()
		for _, fe := range fetches.Errors() {
			if errors.Is(fe.Err, context.DeadlineExceeded) || errors.Is(fe.Err, context.Canceled) {
				continue
			}
			return fmt.Errorf("topic %s partition %d: %v", topic, fe.Partition, fe.Err)
		}
		got := false
		fetches.EachPartition(func(part kgo.FetchTopicPartition) {
			if len(part.Records) == 0 || !pending[part.Partition] {
				return
			}
			got = true
			stop := ranges[part.Partition].stop
			batches <- fetchedBatch{stop: stop, records: part.Records}
			// Offsets can have gaps (transaction markers, compaction): reaching or passing stop - 1 is done.
			if part.Records[len(part.Records)-1].Offset >= stop-1 {
				delete(pending, part.Partition)
				client.PauseFetchPartitions(map[string][]int32{topic: {part.Partition}})
			}
		})
		if got {
			idleSince = time.Now()
		} else if time.Since(idleSince) > timeout {
			waiting := make([]int, 0, len(pending))
			for p := range pending {
				waiting = append(waiting, int(p))
			}
			sort.Ints(waiting)
			return fmt.Errorf("topic %s: no records for %.0f s while reading partitions %v", topic, timeout.Seconds(), waiting)
		}
	}
	return nil
}
