package adapter_test

import (
	"context"
	"net/url"

	"github.com/pbxbridge/pbxbridge/adapter"
)

// Stand-ins for the dependencies a test of the engine does not reach.

type noSender struct{}

func (noSender) Send(context.Context, adapter.Request) (*adapter.Response, error) { panic("unused") }

type noMedia struct{}

func (noMedia) Audio(context.Context, *url.URL) (string, error)                { panic("unused") }
func (noMedia) Speech(context.Context, string, string, string) (string, error) { panic("unused") }

type noLinks struct{}

func (noLinks) FileURL(sid, ext string) string { return "http://bridge/f/" + sid }
