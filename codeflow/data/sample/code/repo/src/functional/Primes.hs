module Primes (primes, isPrime) where

-- | Infinite list of primes by trial division.
primes :: [Int]
primes = 2 : filter isPrime [3, 5 ..]

isPrime :: Int -> Bool
isPrime n
  | n < 2 = False
  | otherwise = all (\p -> n `mod` p /= 0) (takeWhile (\p -> p * p <= n) primes)

sumPrimesBelow :: Int -> Int
sumPrimesBelow limit = sum (takeWhile (< limit) primes)
