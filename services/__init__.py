"""The five СФЕ services of the regulation, one package each."""
