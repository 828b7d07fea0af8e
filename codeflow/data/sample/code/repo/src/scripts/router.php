<?php

namespace App;

class Router
{
    private array $routes = [];

    public function get(string $path, callable $handler): void
    {
        $this->routes['GET'][$path] = $handler;
    }

    public function dispatch(string $method, string $path): string
    {
        $handler = $this->routes[$method][$path] ?? null;
        if ($handler === null) {
            http_response_code(404);
            return "not found";
        }
        return $handler();
    }
}

$router = new Router();
$router->get('/', fn() => 'home');
echo $router->dispatch('GET', '/');
