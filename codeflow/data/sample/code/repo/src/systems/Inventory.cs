using System;
using System.Collections.Generic;
using System.Linq;

namespace Sample
{
    public record Item(string Name, int Quantity, decimal Price);

    public class Inventory
    {
        private readonly List<Item> _items = new();

        public void Add(Item item)
        {
            if (item.Quantity < 0)
            {
                throw new ArgumentException("negative quantity");
            }
            _items.Add(item);
        }

        public decimal TotalValue() => _items.Sum(i => i.Quantity * i.Price);

        public IEnumerable<Item> LowStock(int threshold)
        {
            foreach (var item in _items)
            {
                if (item.Quantity < threshold)
                {
                    yield return item;
                }
            }
        }
    }
}
