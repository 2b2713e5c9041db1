package mem_test

import (
	"testing"

	"github.com/envmon/envmon/store"
	"github.com/envmon/envmon/store/mem"
	"github.com/envmon/envmon/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return mem.New() })
}

func TestClosed(t *testing.T) {
	s := mem.New()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping of a closed store succeeded")
	}
	if err := s.Write(t.Context(), nil); err == nil {
		t.Error("Write to a closed store succeeded")
	}
}
