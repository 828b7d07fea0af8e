defmodule Bank.Account do
  @moduledoc "A tiny account with a balance."

  defstruct balance: 0

  def deposit(%__MODULE__{} = acc, amount) when amount > 0 do
    {:ok, %{acc | balance: acc.balance + amount}}
  end

  def withdraw(%__MODULE__{balance: b}, amount) when amount > b do
    {:error, :insufficient_funds}
  end

  def withdraw(%__MODULE__{} = acc, amount) do
    {:ok, %{acc | balance: acc.balance - amount}}
  end
end
