import { useState } from "react";

interface Props {
  start?: number;
  label: string;
}

export function Counter({ start = 0, label }: Props) {
  const [count, setCount] = useState<number>(start);
  return (
    <div className="counter">
      <span>{label}: {count}</span>
      <button onClick={() => setCount(count + 1)}>+</button>
    </div>
  );
}
