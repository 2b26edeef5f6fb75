/**
 * One realistic source file per tree-sitter language, shared by the chunker tests. Methods are
 * deliberately longer than the tiny-merge threshold at maxTokens 256 (32 tokens), so that each one
 * keeps its own chunk and the expected symbols below stay exact.
 */
export interface Sample {
  path: string;
  language: string;
  text: string;
}

export const SAMPLES: Record<string, Sample> = {
  typescript: {
    path: 'src/router.ts',
    language: 'typescript',
    text: `import { EventEmitter } from 'node:events';
import type { Request, Response } from './http.js';

export interface Route {
  method: string;
  path: string;
  handler: (req: Request, res: Response) => Promise<void>;
}

/** Dispatches requests to the first route whose method and path match. */
export class Router extends EventEmitter {
  private readonly routes: Route[] = [];

  add(method: string, path: string, handler: Route['handler']): this {
    const normalized = path.endsWith('/') && path.length > 1 ? path.slice(0, -1) : path;
    this.routes.push({ method: method.toUpperCase(), path: normalized, handler });
    this.emit('route-added', method, normalized);
    return this;
  }

  async handle(req: Request, res: Response): Promise<boolean> {
    for (const route of this.routes) {
      if (route.method === req.method && route.path === req.path) {
        await route.handler(req, res);
        return true;
      }
    }
    this.emit('not-found', req.method, req.path);
    return false;
  }
}

export function createRouter(routes: Route[]): Router {
  const router = new Router();
  for (const route of routes) {
    router.add(route.method, route.path, route.handler);
  }
  return router;
}
`,
  },
  tsx: {
    path: 'src/TodoList.tsx',
    language: 'tsx',
    text: `import React, { useState } from 'react';

interface TodoItem {
  id: number;
  title: string;
  done: boolean;
}

export function TodoList({ initial }: { initial: TodoItem[] }) {
  const [items, setItems] = useState<TodoItem[]>(initial);
  const toggle = (id: number) =>
    setItems(items.map((item) => (item.id === id ? { ...item, done: !item.done } : item)));
  return (
    <ul className="todo-list">
      {items.map((item) => (
        <li key={item.id} onClick={() => toggle(item.id)}>
          {item.done ? <s>{item.title}</s> : item.title}
        </li>
      ))}
    </ul>
  );
}

export const EmptyState = ({ message }: { message: string }) => {
  const text = message.trim().length > 0 ? message : 'Nothing to do yet, add a task above.';
  return <p className="empty-state">{text}</p>;
};
`,
  },
  javascript: {
    path: 'lib/cache.js',
    language: 'javascript',
    text: `'use strict';

const DEFAULT_TTL_MS = 60_000;

class LruCache {
  constructor(capacity, ttlMs = DEFAULT_TTL_MS) {
    this.capacity = capacity;
    this.ttlMs = ttlMs;
    this.entries = new Map();
  }

  get(key) {
    const entry = this.entries.get(key);
    if (!entry || entry.expires < Date.now()) {
      this.entries.delete(key);
      return undefined;
    }
    this.entries.delete(key);
    this.entries.set(key, entry);
    return entry.value;
  }

  set(key, value) {
    if (this.entries.size >= this.capacity) {
      const oldest = this.entries.keys().next().value;
      this.entries.delete(oldest);
    }
    this.entries.set(key, { value, expires: Date.now() + this.ttlMs });
  }
}

function memoize(fn, cache = new LruCache(100)) {
  return function memoized(...args) {
    const key = JSON.stringify(args);
    let value = cache.get(key);
    if (value === undefined) {
      value = fn.apply(this, args);
      cache.set(key, value);
    }
    return value;
  };
}

module.exports = { LruCache, memoize };
`,
  },
  python: {
    path: 'app/store.py',
    language: 'python',
    text: `import json
from pathlib import Path


class KeyValueStore:
    """A tiny JSON-backed key/value store."""

    def __init__(self, path: Path):
        self.path = path
        self.data = {}
        if path.exists():
            self.data = json.loads(path.read_text(encoding="utf-8"))

    @property
    def size(self) -> int:
        """Number of keys currently held in the store, counted after loading."""
        return len([key for key in self.data.keys() if not key.startswith("_")])

    def save(self) -> None:
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=2, sort_keys=True), encoding="utf-8")
        tmp.replace(self.path)


def open_store(directory: str, name: str = "store.json") -> KeyValueStore:
    path = Path(directory).expanduser().resolve() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    return KeyValueStore(path)


if __name__ == "__main__":
    store = open_store("~/.cache/kv")
    print(store.size)
`,
  },
  go: {
    path: 'server/server.go',
    language: 'go',
    text: `package server

import (
	"fmt"
	"net/http"
)

// Server serves the API on one address.
type Server struct {
	Addr    string
	Handler http.Handler
	started bool
}

// Start listens on the server's address and blocks until it fails.
func (s *Server) Start() error {
	if s.started {
		return fmt.Errorf("server on %s already started", s.Addr)
	}
	s.started = true
	return http.ListenAndServe(s.Addr, s.Handler)
}

func (s Server) String() string {
	state := "stopped"
	if s.started {
		state = "running"
	}
	return fmt.Sprintf("Server{addr=%s, state=%s, handler=%T}", s.Addr, state, s.Handler)
}

func NewServer(addr string, handler http.Handler) *Server {
	if handler == nil {
		handler = http.NotFoundHandler()
	}
	return &Server{Addr: addr, Handler: handler}
}
`,
  },
  rust: {
    path: 'src/stack.rs',
    language: 'rust',
    text: `use std::fmt;

/// A bounded stack that refuses pushes beyond its capacity.
#[derive(Debug, Clone)]
pub struct Stack<T> {
    items: Vec<T>,
    capacity: usize,
}

impl<T: Clone> Stack<T> {
    pub fn new(capacity: usize) -> Self {
        Stack { items: Vec::with_capacity(capacity), capacity }
    }

    pub fn push(&mut self, item: T) -> Result<(), String> {
        if self.items.len() >= self.capacity {
            return Err(format!("stack is full at {} items", self.capacity));
        }
        self.items.push(item);
        Ok(())
    }
}

impl<T: fmt::Debug> fmt::Display for Stack<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Stack(len={}, capacity={}, items={:?})", self.items.len(), self.capacity, self.items)
    }
}

pub fn sum_all(stack: &Stack<i64>) -> i64 {
    let mut total = 0;
    for item in stack.items.iter() {
        total += *item;
    }
    total
}
`,
  },
  java: {
    path: 'src/main/java/com/example/Inventory.java',
    language: 'java',
    text: `package com.example;

import java.util.HashMap;
import java.util.Map;

public class Inventory {
    private final Map<String, Integer> stock = new HashMap<>();

    public void add(String sku, int quantity) {
        if (quantity <= 0) {
            throw new IllegalArgumentException("quantity must be positive: " + quantity);
        }
        stock.merge(sku, quantity, Integer::sum);
    }

    public boolean remove(String sku, int quantity) {
        Integer current = stock.get(sku);
        if (current == null || current < quantity) {
            return false;
        }
        stock.put(sku, current - quantity);
        return true;
    }

    static class Report {
        String render(Map<String, Integer> stock) {
            StringBuilder out = new StringBuilder();
            stock.forEach((sku, count) -> out.append(sku).append(": ").append(count).append('\\n'));
            return out.toString();
        }
    }
}
`,
  },
  c: {
    path: 'src/buffer.c',
    language: 'c',
    text: `#include <stdlib.h>
#include <string.h>

struct buffer {
    char *data;
    size_t len;
    size_t cap;
};

static int buffer_grow(struct buffer *b, size_t need) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    char *data = realloc(b->data, cap);
    if (!data) return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

int buffer_append(struct buffer *b, const char *text, size_t n) {
    if (b->len + n > b->cap && buffer_grow(b, b->len + n) != 0) {
        return -1;
    }
    memcpy(b->data + b->len, text, n);
    b->len += n;
    return 0;
}
`,
  },
  cpp: {
    path: 'src/matrix.cpp',
    language: 'cpp',
    text: `#include <vector>
#include <stdexcept>

namespace linalg {

class Matrix {
public:
    Matrix(int rows, int cols) : rows_(rows), cols_(cols), data_(rows * cols, 0.0) {
        if (rows <= 0 || cols <= 0) throw std::invalid_argument("matrix dimensions must be positive");
    }

    double at(int r, int c) const {
        if (r < 0 || r >= rows_ || c < 0 || c >= cols_) throw std::out_of_range("index out of range");
        return data_[r * cols_ + c];
    }

private:
    int rows_;
    int cols_;
    std::vector<double> data_;
};

double trace(const Matrix& m, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; ++i) {
        sum += m.at(i, i);
    }
    return sum;
}

}  // namespace linalg
`,
  },
  csharp: {
    path: 'src/Accounts/Account.cs',
    language: 'csharp',
    text: `using System;
using System.Collections.Generic;

namespace Bank.Accounts
{
    public class Account
    {
        private readonly List<decimal> _history = new List<decimal>();

        public decimal Balance { get; private set; }

        public void Deposit(decimal amount)
        {
            if (amount <= 0) throw new ArgumentException("Deposit must be positive", nameof(amount));
            Balance += amount;
            _history.Add(amount);
        }

        public bool Withdraw(decimal amount)
        {
            if (amount > Balance) return false;
            Balance -= amount;
            _history.Add(-amount);
            return true;
        }
    }

    public interface IAuditor
    {
        void Record(Account account, string reason);
    }
}
`,
  },
  ruby: {
    path: 'lib/greeter.rb',
    language: 'ruby',
    text: `require 'json'

module Greetings
  class Greeter
    attr_reader :name

    def initialize(name, punctuation: '!')
      @name = name.strip.capitalize
      @punctuation = punctuation
    end

    def greet(other = nil)
      target = other.nil? ? 'world' : other.name
      "Hello, #{target}, from #{@name}#{@punctuation}"
    end
  end

  def self.load_all(path)
    JSON.parse(File.read(path)).map { |entry| Greeter.new(entry.fetch('name')) }
  end
end
`,
  },
  php: {
    path: 'src/Cart.php',
    language: 'php',
    text: `<?php

namespace App\\Shop;

use InvalidArgumentException;

class Cart
{
    private array $items = [];

    public function add(string $sku, int $quantity = 1): void
    {
        if ($quantity < 1) {
            throw new InvalidArgumentException("Quantity must be at least one, got $quantity");
        }
        $this->items[$sku] = ($this->items[$sku] ?? 0) + $quantity;
    }

    public function total(array $prices): float
    {
        $sum = 0.0;
        foreach ($this->items as $sku => $quantity) {
            $sum += ($prices[$sku] ?? 0.0) * $quantity;
        }
        return $sum;
    }
}

function format_price(float $amount, string $currency = 'EUR'): string
{
    return number_format($amount, 2, ',', '.') . ' ' . $currency;
}
`,
  },
  kotlin: {
    path: 'src/main/kotlin/Queue.kt',
    language: 'kotlin',
    text: `package com.example.queue

import java.util.ArrayDeque

class TaskQueue(private val limit: Int) {
    private val tasks = ArrayDeque<String>()

    fun enqueue(task: String): Boolean {
        if (tasks.size >= limit) {
            println("queue full, dropping task: $task")
            return false
        }
        tasks.addLast(task)
        return true
    }

    fun drain(): List<String> {
        val drained = mutableListOf<String>()
        while (tasks.isNotEmpty()) {
            drained.add(tasks.removeFirst())
        }
        return drained
    }
}

fun describe(queue: TaskQueue, label: String = "default queue"): String {
    val items = queue.drain()
    return "$label has \${items.size} pending tasks: \${items.joinToString(", ")}"
}
`,
  },
  swift: {
    path: 'Sources/Shapes/Shapes.swift',
    language: 'swift',
    text: `import Foundation

protocol Shape {
    func area() -> Double
}

struct Rectangle: Shape {
    let width: Double
    let height: Double

    func area() -> Double {
        guard width > 0, height > 0 else { return 0 }
        return width * height
    }

    func scaled(by factor: Double) -> Rectangle {
        precondition(factor > 0, "scale factor must be positive")
        return Rectangle(width: width * factor, height: height * factor)
    }
}

func totalArea(of shapes: [Shape]) -> Double {
    var total = 0.0
    for shape in shapes {
        total += shape.area()
    }
    return total
}
`,
  },
};
