package spool_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/envmon/envmon/ingest/spool"
)

func Example() {
	dir, err := os.MkdirTemp("", "spool")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx := context.Background()

	s, err := spool.Open(dir, spool.Options{MaxBytes: 64 << 20})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()

	// The producer: once Append returns, the records are on disk and the
	// messages they came from may be acknowledged.
	if err := s.Append(ctx, []byte("reading 1"), []byte("reading 2")); err != nil {
		log.Fatal(err)
	}

	// The consumer: deliver, then commit.
	records, pos, err := s.Read(ctx, 100)
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range records {
		fmt.Printf("%s\n", r)
	}
	if err := s.Commit(pos); err != nil {
		log.Fatal(err)
	}
	fmt.Println("left:", s.Len())
	// Output:
	// reading 1
	// reading 2
	// left: 0
}
