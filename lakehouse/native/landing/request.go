package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Request is what the Python caller sends on stdin (JSON): credentials stay out of the process list.
// The caller computes the object path from the lakehouse layout; nothing here builds one.
type Request struct {
	Brokers  []string `json:"brokers"`
	Topic    string   `json:"topic"`
	StartMs  int64    `json:"start_ms"` // window [start_ms, end_ms) on the record timestamp
	EndMs    int64    `json:"end_ms"`
	SlackMs  int64    `json:"slack_ms"` // widening of the window used only to find offsets
	TimeoutS float64  `json:"timeout_s"`
	Output   Output   `json:"output"`
}

// Output is where the Parquet file goes: an s3://bucket/key URI (with endpoint and credentials) or a local path.
type Output struct {
	URI             string `json:"uri"`
	EndpointURL     string `json:"endpoint_url"`
	AccessKeyID     string `json:"access_key_id"`
	SecretAccessKey string `json:"secret_access_key"`
	Region          string `json:"region"`
}

// UsageError is bad input: reported as one line naming the field, exit status 2.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usage(format string, args ...any) error { return &UsageError{fmt.Sprintf(format, args...)} }

func readRequest(r io.Reader) (*Request, error) {
	decoder := json.NewDecoder(r)
	decoder.DisallowUnknownFields()
	req := &Request{SlackMs: 300_000, TimeoutS: 30}
	if err := decoder.Decode(req); err != nil {
		return nil, usage("request: expected one JSON object on stdin (%v)", err)
	}
	switch {
	case len(req.Brokers) == 0 || strings.TrimSpace(req.Brokers[0]) == "":
		return nil, usage("brokers: expected at least one host:port")
	case req.Topic == "":
		return nil, usage("topic: must not be empty")
	case req.EndMs <= req.StartMs:
		return nil, usage("end_ms: must be after start_ms (%d <= %d)", req.EndMs, req.StartMs)
	case req.SlackMs < 0:
		return nil, usage("slack_ms: must not be negative, got %d", req.SlackMs)
	case req.TimeoutS <= 0:
		return nil, usage("timeout_s: must be positive, got %g", req.TimeoutS)
	case req.Output.URI == "":
		return nil, usage("output.uri: expected s3://bucket/key or a local file path")
	}
	if req.Output.Region == "" {
		req.Output.Region = "us-east-1"
	}
	return req, nil
}
