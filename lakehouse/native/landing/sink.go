package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// sink is where the file goes; put replaces the object whole, so readers see the old file or the new one.
type sink interface {
	put(ctx context.Context, data []byte) error
}

func openSink(out Output) (sink, error) {
	if rest, ok := strings.CutPrefix(out.URI, "s3://"); ok {
		bucket, key, _ := strings.Cut(rest, "/")
		if bucket == "" || key == "" || strings.HasSuffix(key, "/") {
			return nil, usage("output.uri: expected s3://bucket/key, got %q", out.URI)
		}
		return newS3Sink(out, bucket, key)
	}
	path := strings.TrimPrefix(out.URI, "file://")
	if strings.Contains(path, "://") || !filepath.IsAbs(path) {
		return nil, usage("output.uri: expected s3://bucket/key or an absolute file path, got %q", out.URI)
	}
	return fileSink{path}, nil
}

type s3Sink struct {
	client      *minio.Client
	bucket, key string
}

func newS3Sink(out Output, bucket, key string) (*s3Sink, error) {
	endpoint, secure := "s3.amazonaws.com", true
	if out.EndpointURL != "" {
		parsed, err := url.Parse(out.EndpointURL)
		if err != nil || parsed.Host == "" {
			return nil, usage("output.endpoint_url: expected http(s)://host:port, got %q", out.EndpointURL)
		}
		endpoint, secure = parsed.Host, parsed.Scheme != "http"
	}
	var creds *credentials.Credentials
	if out.AccessKeyID != "" && out.SecretAccessKey != "" {
		creds = credentials.NewStaticV4(out.AccessKeyID, out.SecretAccessKey, "")
	} else {
		creds = credentials.NewEnvAWS()
	}
	client, err := minio.New(endpoint, &minio.Options{
		Creds: creds, Secure: secure, Region: out.Region, BucketLookup: minio.BucketLookupPath,
	})
	if err != nil {
		return nil, usage("output.endpoint_url: %v", err)
	}
	return &s3Sink{client, bucket, key}, nil
}

// put uploads the file in one PUT: an S3 object becomes visible all at once, replacing the previous one.
func (s *s3Sink) put(ctx context.Context, data []byte) error {
	_, err := s.client.PutObject(ctx, s.bucket, s.key, bytes.NewReader(data), int64(len(data)),
		minio.PutObjectOptions{DisableMultipart: true, ContentType: "application/vnd.apache.parquet"})
	if err != nil {
		return fmt.Errorf("s3://%s/%s: upload failed (%v)", s.bucket, s.key, err)
	}
	return nil
}

type fileSink struct{ path string }

// put writes beside the target and renames over it, as lakehouse/store.py does for file:// lakehouses.
func (f fileSink) put(_ context.Context, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
		return fmt.Errorf("%s: %v", f.path, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(f.path), filepath.Base(f.path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("%s: %v", f.path, err)
	}
	if _, err = tmp.Write(data); err == nil {
		err = tmp.Close()
	} else {
		tmp.Close()
	}
	if err == nil {
		err = os.Rename(tmp.Name(), f.path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("%s: %v", f.path, err)
	}
	return nil
}
