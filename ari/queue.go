package ari

import (
	"context"
	"sync"
)

// queue is an unbounded FIFO with one consumer. Producers never block, which is the point:
// the library's bus drops an event as soon as a subscriber's 100-slot channel is full, so
// every hop after the bus must accept at once whatever arrives.
type queue[T any] struct {
	mu    sync.Mutex
	items []T
	head  int
	peak  int           // largest backlog seen, for Stats
	ready chan struct{} // holds one token while items may be waiting
}

func newQueue[T any]() *queue[T] {
	return &queue[T]{ready: make(chan struct{}, 1)}
}

// push appends v and wakes the consumer.
func (q *queue[T]) push(v T) {
	q.mu.Lock()
	q.items = append(q.items, v)
	if n := len(q.items) - q.head; n > q.peak {
		q.peak = n
	}
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// pop removes the oldest item, if any.
func (q *queue[T]) pop() (T, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var zero T
	if q.head == len(q.items) {
		return zero, false
	}
	v := q.items[q.head]
	q.items[q.head] = zero
	q.head++
	switch {
	case q.head == len(q.items):
		q.items, q.head = q.items[:0], 0
	case q.head >= 64 && q.head*2 >= len(q.items):
		// Compact so that a long-lived queue does not grow without bound.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	return v, true
}

// next blocks until an item is available or ctx is done.
func (q *queue[T]) next(ctx context.Context) (T, error) {
	for {
		if v, ok := q.pop(); ok {
			return v, nil
		}
		select {
		case <-q.ready:
		case <-ctx.Done():
			var zero T
			return zero, context.Cause(ctx)
		}
	}
}

// wake is the channel a select can wait on; after it fires, pop until empty.
func (q *queue[T]) wake() <-chan struct{} { return q.ready }

func (q *queue[T]) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

func (q *queue[T]) maxLen() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.peak
}
